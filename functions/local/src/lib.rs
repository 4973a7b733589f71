//! Embedded adapters for running livesite on one machine with no AWS account:
//! a SQLite store implementing every store port, and a console notifier.

mod console;
mod sqlite;

pub use console::ConsoleNotifier;
pub use sqlite::SqliteStore;
