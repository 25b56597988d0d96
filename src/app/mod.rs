//! The dashboard's brain, free of IO: [`State`], the [`Msg`]s that change it, the [`Effect`]s it
//! asks for, and the pure [`update`] that maps one to the other.
//!
//! ```text
//!  keys ──► Msg ──┐                        ┌──► ui::render(frame, &State)
//!                 ├──► update(&mut State, Msg) -> Vec<Effect>
//!  worker ──► Msg ┤                        └──► worker runs Effects, sends Msg back
//!  tick (1 s) ────┘
//! ```

mod effect;
mod msg;
mod state;
mod update;

pub use effect::Effect;
pub use msg::{LoginPrompt, Msg, WorkerEvent};
pub use state::{Details, Event, EventKind, Mode, Row, State};
pub use update::update;

#[cfg(test)]
mod tests;
