//! safetensors format checks (placeholder, being written).
