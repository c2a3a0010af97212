//! The JS facade: converts values, calls the core, converts back. Nothing else lives here.
