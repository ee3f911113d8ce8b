//! The rumor dashboard as a library, so that tests can fold events into an [`app::App`] and
//! render it into a test backend; the `rumor-tui` binary only wires it to a terminal and a node.

pub mod app;
pub mod demo;
pub mod input;
pub mod logfile;
pub mod ui;
