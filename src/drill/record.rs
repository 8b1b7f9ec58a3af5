//! What the drill remembers of every request it sent: when, to where, and what came back.

use serde::Serialize;

/// A write (`POST /ledger`) or a read (`GET /ledger/{id}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Stores a unique canary.
    Write,
    /// Looks an acknowledged canary up again.
    Read,
}

/// How a request ended, from the client's side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "detail")]
pub enum Outcome {
    /// The answer the contract promises: 201 for a write, 200 for a read.
    Ok,
    /// A read answered 404: the row was not there (a stale read when the write was acknowledged).
    NotFound,
    /// Any other status (5xx, 4xx): an error the client sees.
    Status(u16),
    /// No answer within the drill's timeout.
    Timeout,
    /// The connection failed (refused, reset, closed before an answer).
    Transport(String),
    /// A success status whose body is not what the ledger contract promises (no id).
    Malformed(String),
}

impl Outcome {
    /// An error from the client's point of view (a 404 is an answer, judged by the checker).
    pub fn is_error(&self) -> bool {
        !matches!(self, Outcome::Ok | Outcome::NotFound)
    }
}

/// One request, as sent and as answered. Times are microseconds since the drill started.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    /// Order in the schedule; a read names the write it looks up by this number.
    pub seq: u64,
    /// Write or read.
    pub kind: Kind,
    /// Index into the drill's targets (the region front door it went to).
    pub target: usize,
    /// When the schedule said to send it. Latency counts from here (open loop: a late send is
    /// the generator's delay, and the client would have waited for it too).
    pub scheduled_us: u64,
    /// When the answer (or the failure) arrived.
    pub done_us: u64,
    /// How it ended.
    pub outcome: Outcome,
    /// The HTTP status, when there was one.
    pub status: Option<u16>,
    /// `x-meridian-region`: the region whose Meridian served it (None when no answer).
    pub region: Option<String>,
    /// JSON `error` of a refusal (`rpo_guard`, `no_writer`), when the body named one.
    pub error_code: Option<String>,
    /// The write's canary (for a read: the canary it expects to find).
    pub canary: String,
    /// The ledger id the write was acknowledged with (for a read: the id looked up).
    pub ledger_id: Option<i64>,
    /// The consistency token the write returned (a read sends it back).
    pub token: Option<String>,
    /// For a read: the `seq` of the write it looks up.
    pub of_write: Option<u64>,
    /// For a read: it went to a different target than its write (another region's front door).
    pub cross_region: bool,
    /// For a read: the body found (200), when it differed from the canary expected.
    pub wrong_body: Option<String>,
    /// Response carried `x-meridian-consistency-lost: 1` (the token names a lost write).
    pub lost_flag: bool,
    /// Response carried `x-meridian-rpo-exposed: 1` (admitted while replication was behind).
    pub exposed: bool,
}

impl Record {
    /// A record for a request not yet answered; the load generator fills in the rest.
    pub fn new(seq: u64, kind: Kind, target: usize, scheduled_us: u64, canary: String) -> Self {
        Self {
            seq,
            kind,
            target,
            scheduled_us,
            done_us: scheduled_us,
            outcome: Outcome::Timeout,
            status: None,
            region: None,
            error_code: None,
            canary,
            ledger_id: None,
            token: None,
            of_write: None,
            cross_region: false,
            wrong_body: None,
            lost_flag: false,
            exposed: false,
        }
    }

    /// Send-to-answer time in microseconds.
    pub fn latency_us(&self) -> u64 {
        self.done_us.saturating_sub(self.scheduled_us)
    }

    /// A write the ledger acknowledged (201 with an id): the client was told it is stored.
    pub fn acknowledged(&self) -> bool {
        self.kind == Kind::Write && self.outcome == Outcome::Ok && self.ledger_id.is_some()
    }
}
