//! Streaming blob uploads from files (large model layers are never held in memory).
