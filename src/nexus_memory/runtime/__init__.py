"""The session runtime ported from the seed `runtime_state.rs`."""
