//! The binary protocol's opcodes (protocol_binary.h) and the facts about each one that
//! the codec needs: which are quiet, which echo the key, which retrieve.

use crate::request::{Command, StoreMode};

#[allow(missing_docs)] // the names are memcached's opcode names
mod names {
    pub const GET: u8 = 0x00;
    pub const SET: u8 = 0x01;
    pub const ADD: u8 = 0x02;
    pub const REPLACE: u8 = 0x03;
    pub const DELETE: u8 = 0x04;
    pub const INCREMENT: u8 = 0x05;
    pub const DECREMENT: u8 = 0x06;
    pub const QUIT: u8 = 0x07;
    pub const FLUSH: u8 = 0x08;
    pub const GETQ: u8 = 0x09;
    pub const NOOP: u8 = 0x0a;
    pub const VERSION: u8 = 0x0b;
    pub const GETK: u8 = 0x0c;
    pub const GETKQ: u8 = 0x0d;
    pub const APPEND: u8 = 0x0e;
    pub const PREPEND: u8 = 0x0f;
    pub const STAT: u8 = 0x10;
    pub const SETQ: u8 = 0x11;
    pub const ADDQ: u8 = 0x12;
    pub const REPLACEQ: u8 = 0x13;
    pub const DELETEQ: u8 = 0x14;
    pub const INCREMENTQ: u8 = 0x15;
    pub const DECREMENTQ: u8 = 0x16;
    pub const QUITQ: u8 = 0x17;
    pub const FLUSHQ: u8 = 0x18;
    pub const APPENDQ: u8 = 0x19;
    pub const PREPENDQ: u8 = 0x1a;
    pub const VERBOSITY: u8 = 0x1b;
    pub const TOUCH: u8 = 0x1c;
    pub const GAT: u8 = 0x1d;
    pub const GATQ: u8 = 0x1e;
    pub const SASL_LIST_MECHS: u8 = 0x20;
    pub const SASL_AUTH: u8 = 0x21;
    pub const SASL_STEP: u8 = 0x22;
    pub const GATK: u8 = 0x23;
    pub const GATKQ: u8 = 0x24;
}

pub use names::*;

/// The loud opcode a quiet one stands for (GETQ -> GET, SETQ -> SET...); other
/// opcodes map to themselves. memcached does the same before dispatching.
pub fn loud(opcode: u8) -> u8 {
    match opcode {
        GETQ => GET,
        GETKQ => GETK,
        SETQ => SET,
        ADDQ => ADD,
        REPLACEQ => REPLACE,
        DELETEQ => DELETE,
        INCREMENTQ => INCREMENT,
        DECREMENTQ => DECREMENT,
        QUITQ => QUIT,
        FLUSHQ => FLUSH,
        APPENDQ => APPEND,
        PREPENDQ => PREPEND,
        GATQ => GAT,
        GATKQ => GATK,
        other => other,
    }
}

/// Whether the opcode is a quiet variant: no reply on success (or on a miss, for gets).
pub fn is_quiet(opcode: u8) -> bool {
    loud(opcode) != opcode
}

/// Whether replies to this opcode carry the key (GETK, GATK and their quiet forms),
/// on misses too.
pub fn returns_key(opcode: u8) -> bool {
    matches!(loud(opcode), GETK | GATK)
}

/// Whether the opcode retrieves a value (the GET and GAT families).
pub fn is_retrieval(opcode: u8) -> bool {
    matches!(loud(opcode), GET | GETK | GAT | GATK)
}

/// Whether the opcode touches as it retrieves (the GAT family), carrying an expiry.
pub fn is_gat(opcode: u8) -> bool {
    matches!(loud(opcode), GAT | GATK)
}

/// The plain (loud, no key echo) opcode for a command, for a client that builds a
/// [`crate::BinaryForm`] itself. Commands without a binary equivalent (`shutdown`,
/// `me`, the administrative ones, a store whose value is gone) get NOOP, so the reply
/// stream stays in step.
pub fn for_command(command: &Command) -> u8 {
    match command {
        Command::Get(get) if get.touch.is_some() => GAT,
        Command::Get(_) => GET,
        Command::Store(store) => match store.mode {
            StoreMode::Set => SET,
            StoreMode::Add => ADD,
            StoreMode::Replace => REPLACE,
            StoreMode::Append => APPEND,
            StoreMode::Prepend => PREPEND,
        },
        Command::Delete(_) => DELETE,
        Command::Arith(arith) if arith.incr => INCREMENT,
        Command::Arith(_) => DECREMENT,
        Command::Touch(_) => TOUCH,
        Command::FlushAll(_) => FLUSH,
        Command::Stats(_) => STAT,
        Command::Version => VERSION,
        Command::Verbosity(_) => VERBOSITY,
        Command::Noop
        | Command::Shutdown { .. }
        | Command::Debug(_)
        | Command::Metadump(_)
        | Command::TooLarge(_)
        | Command::Admin(_) => NOOP,
        Command::Quit => QUIT,
        Command::SaslListMechs => SASL_LIST_MECHS,
        Command::SaslAuth(_) => SASL_AUTH,
        Command::SaslStep(_) => SASL_STEP,
    }
}

/// Whether `opcode` can carry `command` (so a client may use the caller's choice of
/// quiet or key-echoing variant).
pub fn fits(opcode: u8, command: &Command) -> bool {
    let plain = for_command(command);
    let op = loud(opcode);
    match command {
        Command::Get(get) if get.touch.is_some() => matches!(op, GAT | GATK),
        Command::Get(_) => matches!(op, GET | GETK),
        // An ADD with a CAS is a CAS store, as SET with a CAS is.
        Command::Store(s) if s.mode == StoreMode::Set && s.cas.is_some() => {
            matches!(op, SET | ADD)
        }
        _ => op == plain,
    }
}
