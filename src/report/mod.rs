//! Reporters: pure functions from receipts to text. Progress display lives in [`progress`].

pub mod compare;
pub mod gates;
pub mod progress;
pub mod table;
