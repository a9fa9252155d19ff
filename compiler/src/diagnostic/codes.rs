//! The registry of diagnostic codes.
//!
//! Every diagnostic integ reports has a stable code from this one table:
//! `E01xx` syntax, `E02xx` names, `E03xx` types, `E04xx` maps, `E05xx` apis
//! and endpoints, `E06xx` policies and literals, `E07xx` secrets and
//! configuration, `E08xx` flows, `E09xx` tests, `W0xxx` warnings. Numbers are
//! never reused; a retired code stays in the table. Each code has an explain
//! text (`explain/<CODE>.md`) with a wrong and a fixed example, printed by
//! `integ explain CODE`.

use super::Severity;

macro_rules! codes {
    ($( $variant:ident = $code:literal, $severity:ident, $title:literal; )*) => {
        /// A stable diagnostic code.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code {
            $( $variant, )*
        }

        impl Code {
            /// Every code, in table order.
            pub const ALL: &'static [Code] = &[ $( Code::$variant, )* ];

            /// The code as written in output and docs, such as `E0200`.
            pub fn as_str(self) -> &'static str {
                match self { $( Code::$variant => $code, )* }
            }

            /// Errors stop a program from running; warnings do not.
            pub fn severity(self) -> Severity {
                match self { $( Code::$variant => Severity::$severity, )* }
            }

            /// A short title, as listed in spec.md's table of codes.
            pub fn title(self) -> &'static str {
                match self { $( Code::$variant => $title, )* }
            }

            /// The long explanation printed by `integ explain`.
            pub fn explain(self) -> &'static str {
                match self { $( Code::$variant => include_str!(concat!("explain/", $code, ".md")), )* }
            }
        }
    };
}

codes! {
    // Syntax.
    SyntaxError = "E0100", Error, "syntax error";
    UnterminatedString = "E0101", Error, "unterminated string literal";
    UnclosedDelimiter = "E0102", Error, "unclosed delimiter";
    EqualsForColon = "E0103", Error, "`=` where `:` is expected";
    StrayComma = "E0104", Error, "stray `,`";
    InvalidEscape = "E0105", Error, "invalid escape sequence";
    NestingTooDeep = "E0106", Error, "nesting too deep";
    InvalidCharacter = "E0107", Error, "invalid character";
    InvalidUtf8 = "E0108", Error, "file is not valid UTF-8";
    UnmatchedDelimiter = "E0109", Error, "unmatched closing delimiter";
    NumberOutOfRange = "E0110", Error, "number literal out of range";

    // Names.
    UnknownType = "E0200", Error, "unknown type";
    UnknownName = "E0201", Error, "unknown name";
    DuplicateDeclaration = "E0202", Error, "duplicate declaration";
    UnknownField = "E0203", Error, "unknown field";
    UnknownApi = "E0204", Error, "unknown api";
    UnknownEndpoint = "E0205", Error, "unknown endpoint";
    UnknownFunction = "E0206", Error, "unknown function or map";
    UnknownPolicy = "E0207", Error, "unknown policy";
    UnknownVariant = "E0208", Error, "unknown enum variant";
    DuplicateMember = "E0209", Error, "duplicate member";
    ModuleNotFound = "E0210", Error, "imported module not found";
    ImportCycle = "E0211", Error, "import cycle";
    UnknownSetting = "E0212", Error, "unknown setting or clause";
    UnknownAuthScheme = "E0213", Error, "unknown auth scheme";
    UnknownErrorName = "E0214", Error, "unknown error name";
    UnknownFlow = "E0215", Error, "unknown flow";
    ReservedName = "E0216", Error, "reserved name";
    NativeOutsideStd = "E0217", Error, "native function outside the standard library";

    // Types.
    TypeMismatch = "E0300", Error, "mismatched types";
    OptionalNotUnwrapped = "E0301", Error, "optional value used where a value is required";
    NonExhaustiveMatch = "E0302", Error, "non-exhaustive match";
    WrongArgumentCount = "E0303", Error, "wrong number of arguments";
    UnknownArgument = "E0304", Error, "unknown named argument";
    NotARecord = "E0305", Error, "field access on a value that has no fields";
    InvalidOperands = "E0306", Error, "invalid operand types";
    NotInterpolatable = "E0307", Error, "value cannot be interpolated into a string";
    NotAStream = "E0308", Error, "`for` over something that is not a stream or list";
    NotAssignable = "E0309", Error, "assignment to something that is not state";
    InvalidType = "E0310", Error, "type not allowed here";
    CannotInfer = "E0311", Error, "type cannot be inferred";
    NotCallable = "E0312", Error, "not a function";
    UnsatisfiedBound = "E0313", Error, "type does not support the operation a function needs";
    InvalidLambda = "E0314", Error, "lambda not allowed here";

    // Maps and record literals.
    MissingField = "E0400", Error, "field left unset";
    FieldSetTwice = "E0401", Error, "field set twice";
    UnknownTargetField = "E0402", Error, "field not in the target type";
    MapTargetNotRecord = "E0403", Error, "map target is not a record";

    // Apis and endpoints.
    UnknownPathParameter = "E0500", Error, "path template names no parameter";
    InvalidPathParameter = "E0501", Error, "path parameter is not a required scalar";
    InvalidHttpMethod = "E0502", Error, "invalid HTTP method";
    InvalidUrl = "E0503", Error, "invalid URL";
    InvalidPath = "E0504", Error, "invalid path template";
    MissingClause = "E0505", Error, "required clause missing";
    MisplacedClause = "E0506", Error, "clause not allowed here";
    InvalidPagination = "E0507", Error, "invalid pagination";
    InvalidBody = "E0508", Error, "invalid request body";
    UnsafeRetry = "E0509", Error, "non-idempotent request retried without an idempotency key";
    InvalidStatusPattern = "E0510", Error, "invalid status pattern";
    InvalidAuth = "E0511", Error, "invalid auth configuration";
    InvalidHeader = "E0512", Error, "invalid header";

    // Policies, durations, rates and other literals.
    InvalidDuration = "E0600", Error, "invalid duration";
    InvalidRate = "E0601", Error, "invalid rate";
    InvalidRetryCount = "E0602", Error, "invalid retry attempts";
    BackoffMaxBelowBase = "E0603", Error, "backoff maximum below its base";
    InvalidSettingValue = "E0604", Error, "invalid setting value";
    InvalidSize = "E0605", Error, "invalid size";
    InvalidCron = "E0606", Error, "invalid cron expression";

    // Secrets and configuration.
    SecretLeak = "E0700", Error, "secret used outside auth and headers";
    EnvOutsideConfig = "E0701", Error, "`env` used outside configuration";
    SecretNotFromEnv = "E0702", Error, "secret not read from the environment";

    // Flows.
    InvalidTrigger = "E0800", Error, "invalid trigger";
    StateTypeMismatch = "E0801", Error, "state assigned a value of the wrong type";
    MissingTrigger = "E0802", Error, "flow has no trigger";
    PayloadMisuse = "E0803", Error, "webhook payload missing or misplaced";
    SkipOutsideLoop = "E0804", Error, "`skip` outside a `for` loop";
    InvalidCatch = "E0805", Error, "invalid catch arm";
    InvalidSignatureScheme = "E0806", Error, "invalid webhook signature scheme";

    // Tests.
    ExpectNotBool = "E0900", Error, "`expect` needs a Bool";
    InvalidGiven = "E0901", Error, "invalid stand-in response";
    TestOnlyOutsideTest = "E0902", Error, "test-only function used outside a test";

    // Warnings.
    UnusedDeclaration = "W0001", Warning, "unused declaration";
    UnusedVariable = "W0002", Warning, "unused variable or parameter";
    UnusedImport = "W0003", Warning, "unused import";
    UnreachableCode = "W0004", Warning, "unreachable code";
    UnnecessaryOptionalOp = "W0005", Warning, "optional operator on a value that is never none";
    BodyOnGet = "W0006", Warning, "request body on a method that has none";
    TimeoutExceedsDeadline = "W0007", Warning, "timeout longer than the deadline";
    ShadowsStd = "W0008", Warning, "declaration shadows the standard library";
    UselessExpression = "W0009", Warning, "expression has no effect";
}

impl Code {
    /// Looks a code up by its text, case-insensitively (`e0200` works too).
    pub fn parse(text: &str) -> Option<Code> {
        let wanted = text.trim();
        Code::ALL.iter().copied().find(|code| code.as_str().eq_ignore_ascii_case(wanted))
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_and_well_formed() {
        let mut seen = HashSet::new();
        for code in Code::ALL {
            let text = code.as_str();
            assert!(seen.insert(text), "{text} appears twice");
            assert_eq!(text.len(), 5, "{text}");
            let expected_prefix = match code.severity() {
                Severity::Error => 'E',
                Severity::Warning => 'W',
            };
            assert!(text.starts_with(expected_prefix), "{text} has the wrong severity letter");
        }
    }

    #[test]
    fn every_code_has_an_explanation_with_a_wrong_and_a_fixed_example() {
        for code in Code::ALL {
            let text = code.explain();
            assert!(
                text.starts_with(&format!("# {}", code.as_str())),
                "{code}: explain text must start with `# {code}`"
            );
            assert!(text.contains("```integ"), "{code}: explain text has no example");
            assert!(text.matches("```integ").count() >= 2, "{code}: explain text needs a wrong and a fixed example");
        }
    }

    #[test]
    fn parse_is_case_insensitive() {
        assert_eq!(Code::parse("e0200"), Some(Code::UnknownType));
        assert_eq!(Code::parse("W0001"), Some(Code::UnusedDeclaration));
        assert_eq!(Code::parse("E9999"), None);
    }
}
