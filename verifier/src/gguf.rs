//! GGUF header sanity checks (placeholder, being written).
