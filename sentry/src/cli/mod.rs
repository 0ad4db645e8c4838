//! The snare command line.
