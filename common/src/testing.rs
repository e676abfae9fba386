//! Helpers for the lessons' tests.
