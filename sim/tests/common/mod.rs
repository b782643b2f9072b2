//! Shared by the sim crate's integration tests: how a regression case fills
//! its weights and activations.
#![allow(dead_code)] // each test binary uses its own part

/// The values of a regression case's weights and activations.
#[derive(Clone, Copy, Debug)]
pub enum Fill {
    Random,
    /// Weights at max and activations at their minimum.
    MaxTimesMin,
    /// Weights at min and activations at their maximum.
    MinTimesMax,
    /// Each weight max or min, each activation at its maximum or minimum.
    Extremes,
}
