//! The dashboard's brain, free of IO: [`State`], the [`Msg`]s that change it, the [`Effect`]s it
//! asks for, and the pure [`update`] that maps one to the other.
//!
//! ```text
//!  keys ──► Msg ──┐                        ┌──► ui::render(frame, &State)
//!                 ├──► update(&mut State, Msg) -> Vec<Effect>
//!  worker ──► Msg ┤                        └──► worker runs Effects, sends Msg back
//!  tick (1 s) ────┘
//! ```
//!
//! `update` turns a key into an [`keymap::Action`] by the mode it is in, then acts on that; the
//! [`keymap`]'s table also writes the help, the footer and the details hint. When profiles are
//! refreshed by themselves is [`crate::schedule`]'s to say.

mod effect;
pub mod keymap;
mod msg;
mod state;
mod update;

pub use effect::Effect;
pub use msg::{BrowserPrompt, LoginPrompt, Msg, WorkerEvent};
pub use state::{Activity, Details, Event, EventKind, Mode, READING_THE_STORE, Row, State};
pub use update::update;

#[cfg(test)]
mod tests;
