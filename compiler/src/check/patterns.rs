//! `match`: patterns, exhaustiveness and unreachable arms.
//!
//! In: a scrutinee's type and the arms. Out: the type of the arms' values,
//! E0302 listing what is not covered (every variant of an enum, `true` and
//! `false`, `none` for optionals, `_` for strings and numbers), and W0004 for
//! arms that can never match.

use super::scope::Cx;
use super::types::Ty;
use super::{Checker, suggest};
use crate::diagnostic::{Code, Diagnostic};
use crate::source::Span;
use crate::syntax::ast::{Arm, Expr, PatternAlt};

/// What a set of arms has covered so far.
#[derive(Default)]
struct Coverage {
    wildcard: Option<Span>,
    none: Option<Span>,
    variants: Vec<String>,
    bools: Vec<bool>,
    literals: Vec<String>,
}

impl Checker<'_> {
    pub(crate) fn check_match(
        &mut self,
        cx: &mut Cx,
        whole: &Expr,
        scrutinee: &Expr,
        arms: &[Arm],
        expected: Option<&Ty>,
    ) -> Ty {
        let scrutinee_ty = self.check_expr(cx, scrutinee, None);
        let (inner, optional) = match &scrutinee_ty {
            Ty::Optional(inner) => ((**inner).clone(), true),
            other => (other.clone(), false),
        };
        let mut coverage = Coverage::default();
        let mut result: Option<Ty> = expected.cloned();
        let mut first_result: Option<Ty> = None;
        for arm in arms {
            let mut reachable = false;
            for alternative in &arm.pattern.alternatives {
                if coverage.wildcard.is_some() {
                    continue;
                }
                if self.pattern(alternative, &inner, optional, &mut coverage) {
                    reachable = true;
                }
            }
            if !reachable && !scrutinee_ty.is_error() {
                let mut diagnostic = Diagnostic::new(Code::UnreachableCode, arm.pattern.span, "unreachable match arm")
                    .label("earlier arms already cover this")
                    .fix("remove the arm", arm.span, "");
                if let Some(wildcard) = coverage.wildcard {
                    diagnostic = diagnostic.secondary(wildcard, "`_` matches everything before this arm");
                }
                self.report(diagnostic);
            }
            let ty = self.check_expr(cx, &arm.value, result.as_ref().or(first_result.as_ref()));
            match &first_result {
                None => first_result = Some(ty.clone()),
                Some(previous) => {
                    let joined = self.join(previous, &ty, arm.value.span, "this match arm");
                    first_result = Some(joined);
                }
            }
            if let Some(expected_ty) = &result
                && !self.fits(cx, &ty, expected_ty)
                && !ty.is_error()
            {
                result = None;
            }
        }
        if arms.is_empty() {
            self.report(
                Diagnostic::new(Code::NonExhaustiveMatch, whole.span, "`match` with no arms")
                    .label("a match needs at least one arm")
                    .help("add arms such as `pattern => value`, and `_ => value` for the rest"),
            );
            return Ty::Error;
        }
        if !scrutinee_ty.is_error() && coverage.wildcard.is_none() {
            let missing = self.missing(&inner, optional, &coverage);
            if !missing.is_empty() {
                let shown = super::decls::join_words(&missing);
                let insertion: String =
                    missing.iter().map(|pattern| format!("  {} => todo\n", pattern.trim_matches('`'))).collect();
                let end = whole.span.shrink_to_end();
                let insert_at = Span { start: end.start.saturating_sub(1), end: end.start.saturating_sub(1), ..end };
                self.report(
                    Diagnostic::new(
                        Code::NonExhaustiveMatch,
                        scrutinee.span,
                        format!("non-exhaustive match: {shown} not covered"),
                    )
                    .label(format!("`{}` may be {shown}", super::expr::source_text(self, scrutinee)))
                    .help("add an arm for each, or `_ => value` for the rest")
                    .maybe_fix("add the missing arms", insert_at, insertion),
                );
            }
        }
        first_result.unwrap_or(Ty::Error)
    }

    /// Checks one alternative; true if it matches something not yet covered.
    fn pattern(&mut self, alternative: &PatternAlt, inner: &Ty, optional: bool, coverage: &mut Coverage) -> bool {
        match alternative {
            PatternAlt::Wildcard(span) => {
                coverage.wildcard = Some(*span);
                true
            }
            PatternAlt::None(span) => {
                if !optional && !inner.is_error() {
                    self.report(
                        Diagnostic::new(
                            Code::UnnecessaryOptionalOp,
                            *span,
                            "`none` pattern on a value that is never none",
                        )
                        .label(format!("the value is `{}`", self.show(inner))),
                    );
                    return true;
                }
                coverage.none.replace(*span).is_none()
            }
            PatternAlt::Bool(value, span) => {
                if !matches!(inner, Ty::Bool | Ty::Error) {
                    self.pattern_mismatch(*span, inner, "a Bool");
                    return true;
                }
                if coverage.bools.contains(value) {
                    return false;
                }
                coverage.bools.push(*value);
                true
            }
            PatternAlt::Int(value, span) => {
                if !matches!(inner, Ty::Int | Ty::Decimal | Ty::Float | Ty::Error) {
                    self.pattern_mismatch(*span, inner, "a number");
                    return true;
                }
                let key = value.to_string();
                if coverage.literals.contains(&key) {
                    return false;
                }
                coverage.literals.push(key);
                true
            }
            PatternAlt::Number(text, span) => {
                if !matches!(inner, Ty::Decimal | Ty::Float | Ty::Error) {
                    self.pattern_mismatch(*span, inner, "a Decimal");
                    return true;
                }
                if coverage.literals.contains(text) {
                    return false;
                }
                coverage.literals.push(text.clone());
                true
            }
            PatternAlt::Quantity(quantity, span) => {
                let _ = quantity;
                self.report(
                    Diagnostic::new(Code::InvalidStatusPattern, *span, "units are not patterns")
                        .label("a `match` pattern is a variant, a literal, `none` or `_`"),
                );
                true
            }
            PatternAlt::String(text, span) => {
                if !matches!(inner, Ty::String | Ty::Error) {
                    self.pattern_mismatch(*span, inner, "a String");
                    return true;
                }
                let key = format!("\"{text}\"");
                if coverage.literals.contains(&key) {
                    return false;
                }
                coverage.literals.push(key);
                true
            }
            PatternAlt::Variant { qualifier, name } => {
                let span = alternative.span();
                let Ty::Enum(id) = inner else {
                    if !inner.is_error() {
                        let shown = self.show(inner);
                        let hint =
                            if matches!(inner, Ty::String) { "; match strings with quotes: \"paid\"" } else { "" };
                        self.report(
                            Diagnostic::new(
                                Code::TypeMismatch,
                                span,
                                format!("`{}` is not a value of `{shown}`", name.name),
                            )
                            .label(format!("a name pattern is an enum variant, but the value is `{shown}`{hint}")),
                        );
                    }
                    return true;
                };
                let Some(definition) = self.types.enumeration(*id).cloned() else {
                    return true;
                };
                if let Some(qualifier) = qualifier {
                    if qualifier.name != definition.name {
                        self.report(
                            Diagnostic::new(
                                Code::TypeMismatch,
                                qualifier.span,
                                format!("`{}` is not `{}`", qualifier.name, definition.name),
                            )
                            .label(format!("the value is a `{}`", definition.name))
                            .maybe_fix(
                                format!("use `{}`", definition.name),
                                qualifier.span,
                                definition.name.clone(),
                            ),
                        );
                        return true;
                    }
                    self.use_symbol(&qualifier.name);
                }
                if definition.variant(&name.name).is_none() {
                    let mut diagnostic = Diagnostic::new(
                        Code::UnknownVariant,
                        name.span,
                        format!("`{}` has no variant `{}`", definition.name, name.name),
                    )
                    .label("unknown variant")
                    .secondary(definition.span, format!("`{}` is declared here", definition.name));
                    if let Some(best) =
                        suggest::best(&name.name, definition.variants.iter().map(|variant| variant.name.as_str()))
                    {
                        diagnostic = diagnostic.help(format!("did you mean `{best}`?")).maybe_fix(
                            format!("use `{best}`"),
                            name.span,
                            best,
                        );
                    }
                    self.report(diagnostic);
                    return true;
                }
                if coverage.variants.contains(&name.name) {
                    return false;
                }
                coverage.variants.push(name.name.clone());
                true
            }
        }
    }

    fn pattern_mismatch(&mut self, span: Span, inner: &Ty, pattern: &str) {
        if inner.is_error() {
            return;
        }
        let shown = self.show(inner);
        self.report(
            Diagnostic::new(Code::TypeMismatch, span, format!("this pattern is {pattern}, but the value is `{shown}`"))
                .label(format!("expected a pattern for `{shown}`")),
        );
    }

    /// What the arms leave uncovered, written as patterns.
    fn missing(&self, inner: &Ty, optional: bool, coverage: &Coverage) -> Vec<String> {
        let mut missing = Vec::new();
        if optional && coverage.none.is_none() {
            missing.push("`none`".to_owned());
        }
        match inner {
            Ty::Enum(id) => {
                if let Some(definition) = self.types.enumeration(*id) {
                    missing.extend(
                        definition
                            .variants
                            .iter()
                            .filter(|variant| !coverage.variants.contains(&variant.name))
                            .map(|variant| format!("`{}`", variant.name)),
                    );
                }
            }
            Ty::Bool => {
                for value in [true, false] {
                    if !coverage.bools.contains(&value) {
                        missing.push(format!("`{value}`"));
                    }
                }
            }
            Ty::Error => {}
            _ => missing.push("`_`".to_owned()),
        }
        missing
    }
}
