//! Diagnostics: what went wrong, where, and how to fix it.
//!
//! In: the phases build [`Diagnostic`]s with a [`Code`] from the one registry
//! ([`codes`]), labelled spans, notes, help and machine-applicable
//! [`Suggestion`]s. Out: text rendered with codespan-reporting ([`render`])
//! or the versioned JSON of [`json`]. Only these two modules know about
//! output formats; the phases only build values.

pub mod codes;
pub mod json;
pub mod render;

pub use codes::Code;

use crate::source::Span;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// A span with a message. The primary label says what is wrong at the span;
/// secondary labels point at related places ("first declared here").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    pub span: Span,
    pub message: String,
    pub primary: bool,
}

/// How sure a suggestion is: whether a tool may apply it without asking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applicability {
    /// Applying it fixes the error and cannot change meaning otherwise.
    MachineApplicable,
    /// Probably right (a "did you mean"), but a person should look.
    MaybeIncorrect,
}

/// A text edit that fixes the diagnostic: replace `span` with `replacement`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Suggestion {
    pub message: String,
    pub span: Span,
    pub replacement: String,
    pub applicability: Applicability,
}

/// One problem in the source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub code: Code,
    pub severity: Severity,
    pub message: String,
    pub labels: Vec<Label>,
    pub notes: Vec<String>,
    pub help: Option<String>,
    pub suggestions: Vec<Suggestion>,
}

impl Diagnostic {
    /// A diagnostic with the code's own severity and a primary label at `span`.
    pub fn new(code: Code, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            code,
            severity: code.severity(),
            message: message.into(),
            labels: vec![Label { span, message: String::new(), primary: true }],
            notes: Vec::new(),
            help: None,
            suggestions: Vec::new(),
        }
    }

    /// Sets the message of the primary label.
    pub fn label(mut self, message: impl Into<String>) -> Diagnostic {
        if let Some(primary) = self.labels.iter_mut().find(|label| label.primary) {
            primary.message = message.into();
        }
        self
    }

    /// Adds a secondary label.
    pub fn secondary(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.labels.push(Label { span, message: message.into(), primary: false });
        self
    }

    pub fn note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// Adds a suggestion that a tool may apply without asking.
    pub fn fix(mut self, message: impl Into<String>, span: Span, replacement: impl Into<String>) -> Diagnostic {
        self.suggestions.push(Suggestion {
            message: message.into(),
            span,
            replacement: replacement.into(),
            applicability: Applicability::MachineApplicable,
        });
        self
    }

    /// Adds a suggestion that a person should confirm (a "did you mean").
    pub fn maybe_fix(mut self, message: impl Into<String>, span: Span, replacement: impl Into<String>) -> Diagnostic {
        self.suggestions.push(Suggestion {
            message: message.into(),
            span,
            replacement: replacement.into(),
            applicability: Applicability::MaybeIncorrect,
        });
        self
    }

    /// The span of the primary label.
    pub fn primary_span(&self) -> Span {
        self.labels.iter().find(|label| label.primary).map(|label| label.span).unwrap_or_default()
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Sorts diagnostics by file and position and drops exact repeats (the same
/// file can be checked as a root and as an import of another root).
pub fn sort_and_dedup(diagnostics: &mut Vec<Diagnostic>) {
    diagnostics.sort_by(|a, b| {
        let (span_a, span_b) = (a.primary_span(), b.primary_span());
        (span_a.file, span_a.start, span_a.end, a.code, &a.message).cmp(&(
            span_b.file,
            span_b.start,
            span_b.end,
            b.code,
            &b.message,
        ))
    });
    diagnostics.dedup();
}

/// Counts of errors and warnings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub errors: usize,
    pub warnings: usize,
}

impl Tally {
    pub fn of(diagnostics: &[Diagnostic]) -> Tally {
        let errors = diagnostics.iter().filter(|diagnostic| diagnostic.is_error()).count();
        Tally { errors, warnings: diagnostics.len() - errors }
    }
}
