//! Tests, lowered: the items of `test` blocks over the slots of one frame
//! (§ 13 of spec.md).
//!
//! In: a checked `test` declaration. Out: a [`Test`]: `let`s, stand-ins
//! (`given`), runs and expectations in order. A test's frame holds one slot
//! per flow it reads (the flow's results after its latest `run`, a record
//! of the flow's states and counters), then its `let`s, then the slots its
//! expressions need. Nothing here is evaluated; `interp::test` runs tests.
//!
//! Lowering is [`super::lower::lower_with_tests`].

use super::Expr;
use super::flow::Location;
use crate::check::types::Ty;
use crate::source::Span;
use crate::syntax::ast::BinaryOp;

/// A lowered `test "description" { ... }`.
#[derive(Clone, Debug)]
pub struct Test {
    pub name: String,
    /// Where the description is written.
    pub location: Location,
    pub span: Span,
    pub frame_size: u32,
    /// Flows the test reads, with their result slot and result record.
    pub flows: Vec<FlowSlot>,
    /// Every endpoint's slot for `calls(Api.endpoint)`.
    pub calls: Vec<CallsSlot>,
    /// Flows whose `failed` the test reads: a failed run of these is expected.
    pub reads_failed: Vec<String>,
    pub items: Vec<TestItem>,
}

/// The slot of a flow's results in a test's frame.
#[derive(Clone, Debug)]
pub struct FlowSlot {
    pub flow: String,
    pub slot: u32,
    /// The record type of the results (states, then `read`, `written`,
    /// `skipped`, `dead_letters` and `failed`).
    pub record: u32,
}

/// The slot of `calls(Api.endpoint)` in a test's frame: a list of records
/// of the endpoint's parameters.
#[derive(Clone, Debug)]
pub struct CallsSlot {
    pub api: u32,
    pub endpoint: u32,
    pub slot: u32,
    /// The record type of one call's arguments.
    pub record: u32,
}

#[derive(Clone, Debug)]
pub struct TestItem {
    pub kind: TestItemKind,
    pub location: Location,
    pub span: Span,
    /// The flows whose results the item reads (it fails when one has not run).
    pub reads: Vec<String>,
}

#[derive(Clone, Debug)]
pub enum TestItemKind {
    Let {
        slot: u32,
        value: Expr,
    },
    /// `given Api.endpoint(name: value) returns ..., then ...`.
    Given {
        api: u32,
        endpoint: u32,
        /// Arguments the stand-in matches, by parameter index, with the parameter's type.
        args: Vec<(u32, Expr, Ty)>,
        responses: Vec<Response>,
    },
    /// `run flow(name: value)`.
    Run {
        flow: String,
        payload: Option<Expr>,
        /// Starting values of states, by state index.
        states: Vec<(u32, Expr)>,
    },
    Expect(Expectation),
}

/// What an `expect` checks, and what its report shows when it fails (§ 13.3).
#[derive(Clone, Debug)]
pub enum Expectation {
    /// `expect a == b`, `expect a < b`...: both operands are shown (for `==`, with a diff).
    Compare {
        op: BinaryOp,
        lhs: Expr,
        lhs_ty: Ty,
        rhs: Expr,
        rhs_ty: Ty,
        /// Two free slots where the operands' values are kept while the comparison runs.
        slots: (u32, u32),
        /// The operands as written.
        lhs_text: String,
        rhs_text: String,
    },
    /// Any other condition: its report shows the values of the names it uses.
    Condition { condition: Expr, names: Vec<(String, Expr, Ty)> },
}

/// One scripted response of a stand-in (§ 13.1).
#[derive(Clone, Debug)]
pub enum Response {
    /// `returns e`: for a stream, the list of its records.
    Returns {
        value: Expr,
        ty: Ty,
        /// `returns e per page N`: records per page of a stream, whatever
        /// its pagination says.
        per_page: Option<u64>,
    },
    /// `returns fixture("path")`: the file is the whole body.
    ReturnsFixture {
        path: String,
    },
    Succeeds,
    Fails {
        status: u16,
        retry_after_ms: Option<u64>,
        body: Option<FailBody>,
    },
    TimesOut,
    Resets,
}

/// The body of `fails S body ...`.
#[derive(Clone, Debug)]
pub enum FailBody {
    /// Any value, sent as JSON.
    Value(Expr, Ty),
    /// `body fixture("error.json")`: the file as it is.
    Fixture(String),
}
