//! Building the AST from pest pairs.
//!
//! In: the pair of one declaration, parsed from `text[base..]`. Out: the
//! [`Decl`] with file-relative spans, or the diagnostic that stopped it (a
//! number out of range, an expression nested too deeply). Nothing here
//! resolves names or checks meaning.

use std::sync::LazyLock;

use pest::iterators::{Pair, Pairs};
use pest::pratt_parser::{Assoc, Op, PrattParser};

use super::MAX_EXPRESSION_DEPTH;
use super::ast::*;
use super::parser::{Rule, too_deep};
use crate::diagnostic::{Code, Diagnostic};
use crate::source::{FileId, Span};

static PRATT: LazyLock<PrattParser<Rule>> = LazyLock::new(|| {
    PrattParser::new()
        .op(Op::infix(Rule::op_or, Assoc::Left))
        .op(Op::infix(Rule::op_and, Assoc::Left))
        .op(Op::infix(Rule::op_eq, Assoc::Left)
            | Op::infix(Rule::op_ne, Assoc::Left)
            | Op::infix(Rule::op_lt, Assoc::Left)
            | Op::infix(Rule::op_le, Assoc::Left)
            | Op::infix(Rule::op_gt, Assoc::Left)
            | Op::infix(Rule::op_ge, Assoc::Left))
        .op(Op::infix(Rule::op_coalesce, Assoc::Right))
        .op(Op::infix(Rule::op_add, Assoc::Left) | Op::infix(Rule::op_sub, Assoc::Left))
        .op(Op::infix(Rule::op_mul, Assoc::Left)
            | Op::infix(Rule::op_div, Assoc::Left)
            | Op::infix(Rule::op_rem, Assoc::Left))
        .op(Op::prefix(Rule::op_not) | Op::prefix(Rule::op_neg))
});

type Result<T> = std::result::Result<T, Diagnostic>;

/// Builds one declaration from its pair; `base` is the offset of the parsed text in the file.
pub fn declaration(file: FileId, base: usize, text: &str, pair: Pair<'_, Rule>) -> Result<Decl> {
    let mut builder = Builder { file, base, text, depth: 0 };
    builder.decl(pair)
}

struct Builder<'t> {
    file: FileId,
    base: usize,
    text: &'t str,
    /// An upper bound of the depth of the expression being built.
    depth: usize,
}

impl Builder<'_> {
    fn span(&self, pair: &Pair<'_, Rule>) -> Span {
        let span = pair.as_span();
        Span::new(self.file, self.base + span.start(), self.base + span.end())
    }

    fn ident(&self, pair: Pair<'_, Rule>) -> Ident {
        Ident { name: pair.as_str().to_owned(), span: self.span(&pair) }
    }

    /// The `///` lines directly above `start`, joined, without the slashes.
    fn doc_before(&self, start: usize) -> Option<String> {
        // Only the indentation may precede the item on its line (scanning no further
        // keeps this linear when a file puts many declarations on one line).
        let bytes = self.text.as_bytes();
        let mut line_start = start.min(bytes.len());
        while line_start > 0 && matches!(bytes[line_start - 1], b' ' | b'\t' | b'\r') {
            line_start -= 1;
        }
        if line_start == 0 || bytes[line_start - 1] != b'\n' {
            return None;
        }
        let mut lines = Vec::new();
        let mut rest = self.text.get(..line_start - 1)?;
        loop {
            let (previous, line) = match rest.rfind('\n') {
                Some(newline) => (&rest[..newline], &rest[newline + 1..]),
                None => ("", rest),
            };
            let trimmed = line.trim();
            let Some(doc) = trimmed.strip_prefix("///") else {
                break;
            };
            lines.push(doc.strip_prefix(' ').unwrap_or(doc).trim_end().to_owned());
            if previous.is_empty() && rest.rfind('\n').is_none() {
                break;
            }
            rest = previous;
        }
        if lines.is_empty() {
            return None;
        }
        lines.reverse();
        Some(lines.join("\n"))
    }

    fn decl(&mut self, pair: Pair<'_, Rule>) -> Result<Decl> {
        let span = self.span(&pair);
        let doc = self.doc_before(span.start as usize);
        let rule = pair.as_rule();
        let mut inner = pair.into_inner();
        let kind = match rule {
            Rule::import_decl => {
                let _keyword = inner.next();
                let path = self.next(&mut inner, span)?;
                let path_span = self.span(&path);
                let literal = self.string(path)?;
                let path = literal.as_plain().unwrap_or_default();
                DeclKind::Import(Import { path, path_span })
            }
            Rule::secret_decl => {
                let _keyword = inner.next();
                let name = self.ident(self.next(&mut inner, span)?);
                let value = self.expr(self.next(&mut inner, span)?)?;
                DeclKind::Secret(SecretDecl { name, value })
            }
            Rule::auth_decl => {
                let _keyword = inner.next();
                let name = self.ident(self.next(&mut inner, span)?);
                let value = self.expr(self.next(&mut inner, span)?)?;
                DeclKind::Auth(AuthDecl { name, value })
            }
            Rule::type_decl => {
                let _keyword = inner.next();
                let name = self.ident(self.next(&mut inner, span)?);
                let fields = inner.map(|field| self.field(field)).collect::<Result<_>>()?;
                DeclKind::Type(TypeDecl { name, fields })
            }
            Rule::enum_decl => {
                let _keyword = inner.next();
                let name = self.ident(self.next(&mut inner, span)?);
                let variants = inner.map(|variant| self.variant(variant)).collect::<Result<_>>()?;
                DeclKind::Enum(EnumDecl { name, variants })
            }
            Rule::api_decl => {
                let _keyword = inner.next();
                let name = self.ident(self.next(&mut inner, span)?);
                let mut items = Vec::new();
                for item in inner {
                    items.push(match item.as_rule() {
                        Rule::endpoint_decl => ApiItem::Endpoint(self.endpoint(item)?),
                        _ => ApiItem::Clause(self.clause(item)?),
                    });
                }
                DeclKind::Api(ApiDecl { name, items })
            }
            Rule::policy_decl => {
                let _keyword = inner.next();
                let name = self.ident(self.next(&mut inner, span)?);
                let clauses = inner.map(|clause| self.clause(clause)).collect::<Result<_>>()?;
                DeclKind::Policy(PolicyDecl { name, clauses })
            }
            Rule::map_decl => {
                let _keyword = inner.next();
                let name = self.ident(self.next(&mut inner, span)?);
                let params_pair = self.next(&mut inner, span)?;
                let params_span = self.span(&params_pair);
                let params = self.params(params_pair)?;
                let target = self.type_expr(self.next(&mut inner, span)?)?;
                let body = self.next(&mut inner, span)?;
                let body_span = self.span(&body);
                let mut items = Vec::new();
                for item in body.into_inner() {
                    items.push(match item.as_rule() {
                        Rule::let_stmt => MapItem::Let(self.let_stmt(item)?),
                        _ => {
                            let field_span = self.span(&item);
                            let mut parts = item.into_inner();
                            let name = self.ident(self.next(&mut parts, field_span)?);
                            let value = self.expr(self.next(&mut parts, field_span)?)?;
                            MapItem::Field(FieldInit { name, value, span: field_span })
                        }
                    });
                }
                DeclKind::Map(MapDecl { name, params, params_span, target, items, body_span })
            }
            Rule::fn_decl => {
                let mut native = false;
                let mut generics = Vec::new();
                let mut name = None;
                let mut params = Vec::new();
                let mut params_span = span;
                let mut returns = None;
                let mut body = None;
                for part in inner {
                    match part.as_rule() {
                        Rule::kw_native => native = true,
                        Rule::kw_fn => {}
                        Rule::ident_any => name = Some(self.ident(part)),
                        Rule::generics => {
                            for generic in part.into_inner() {
                                let generic_span = self.span(&generic);
                                let mut parts = generic.into_inner();
                                let name = self.ident(self.next(&mut parts, generic_span)?);
                                let bound = parts.next().map(|bound| self.ident(bound));
                                generics.push(Generic { name, bound });
                            }
                        }
                        Rule::params => {
                            params_span = self.span(&part);
                            params = self.params(part)?;
                        }
                        Rule::type_expr => returns = Some(self.type_expr(part)?),
                        _ => body = Some(self.expr(part)?),
                    }
                }
                let name = name.ok_or_else(|| internal(span))?;
                let returns = returns.ok_or_else(|| internal(span))?;
                DeclKind::Fn(FnDecl { name, native, generics, params, params_span, returns, body })
            }
            Rule::flow_decl => {
                let _keyword = inner.next();
                let name = self.ident(self.next(&mut inner, span)?);
                let mut items = Vec::new();
                for item in inner {
                    let item_span = self.span(&item);
                    items.push(match item.as_rule() {
                        Rule::flow_setting => FlowItem::Setting(self.clause(item)?),
                        Rule::state_decl => {
                            let mut parts = item.into_inner();
                            let _keyword = parts.next();
                            let name = self.ident(self.next(&mut parts, item_span)?);
                            let ty = self.type_expr(self.next(&mut parts, item_span)?)?;
                            let init = self.expr(self.next(&mut parts, item_span)?)?;
                            FlowItem::State(StateDecl { name, ty, init, span: item_span })
                        }
                        Rule::payload_decl => {
                            let mut parts = item.into_inner();
                            let _keyword = parts.next();
                            let name = self.ident(self.next(&mut parts, item_span)?);
                            let ty = self.type_expr(self.next(&mut parts, item_span)?)?;
                            FlowItem::Payload(PayloadDecl { name, ty, span: item_span })
                        }
                        _ => FlowItem::Stmt(self.stmt(item)?),
                    });
                }
                DeclKind::Flow(FlowDecl { name, items })
            }
            Rule::test_decl => {
                let _keyword = inner.next();
                let name_pair = self.next(&mut inner, span)?;
                let name_span = self.span(&name_pair);
                let name = self.string(name_pair)?.as_plain().unwrap_or_default();
                let mut items = Vec::new();
                for item in inner {
                    let item_span = self.span(&item);
                    items.push(match item.as_rule() {
                        Rule::given_stmt => {
                            let mut parts = item.into_inner();
                            let _keyword = parts.next();
                            let target = self.expr(self.next(&mut parts, item_span)?)?;
                            let response = self.setting_value(self.next(&mut parts, item_span)?)?;
                            TestItem::Given { target, response, span: item_span }
                        }
                        Rule::expect_stmt => {
                            let mut parts = item.into_inner();
                            let _keyword = parts.next();
                            let condition = self.expr(self.next(&mut parts, item_span)?)?;
                            TestItem::Expect { condition, span: item_span }
                        }
                        Rule::run_stmt => {
                            let mut parts = item.into_inner();
                            let _keyword = parts.next();
                            let flow = self.ident(self.next(&mut parts, item_span)?);
                            let args = match parts.next() {
                                Some(args) => self.args(args)?,
                                None => Vec::new(),
                            };
                            TestItem::Run { flow, args, span: item_span }
                        }
                        _ => TestItem::Let(self.let_stmt(item)?),
                    });
                }
                DeclKind::Test(TestDecl { name, name_span, items })
            }
            _ => return Err(internal(span)),
        };
        Ok(Decl { kind, span, doc })
    }

    fn next<'i>(&self, pairs: &mut Pairs<'i, Rule>, span: Span) -> Result<Pair<'i, Rule>> {
        pairs.next().ok_or_else(|| internal(span))
    }

    fn field(&mut self, pair: Pair<'_, Rule>) -> Result<Field> {
        let span = self.span(&pair);
        let doc = self.doc_before(span.start as usize);
        let mut inner = pair.into_inner();
        let name = self.ident(self.next(&mut inner, span)?);
        let ty = self.type_expr(self.next(&mut inner, span)?)?;
        let attributes = inner.map(|attribute| self.attribute(attribute)).collect::<Result<_>>()?;
        Ok(Field { name, ty, attributes, doc, span })
    }

    fn variant(&mut self, pair: Pair<'_, Rule>) -> Result<Variant> {
        let span = self.span(&pair);
        let doc = self.doc_before(span.start as usize);
        let mut inner = pair.into_inner();
        let name = self.ident(self.next(&mut inner, span)?);
        let attributes = inner.map(|attribute| self.attribute(attribute)).collect::<Result<_>>()?;
        Ok(Variant { name, attributes, doc, span })
    }

    fn attribute(&mut self, pair: Pair<'_, Rule>) -> Result<Attribute> {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let name = self.ident(self.next(&mut inner, span)?);
        let args = match inner.next() {
            Some(args) => self.args(args)?,
            None => Vec::new(),
        };
        Ok(Attribute { name, args, span })
    }

    fn type_expr(&mut self, pair: Pair<'_, Rule>) -> Result<TypeExpr> {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let atom = self.next(&mut inner, span)?;
        let atom_span = self.span(&atom);
        let kind = match atom.as_rule() {
            Rule::list_type => {
                let element = self.type_expr(self.next(&mut atom.into_inner(), atom_span)?)?;
                TypeExprKind::List(Box::new(element))
            }
            Rule::map_type => {
                let mut parts = atom.into_inner();
                let key = self.type_expr(self.next(&mut parts, atom_span)?)?;
                let value = self.type_expr(self.next(&mut parts, atom_span)?)?;
                TypeExprKind::Map(Box::new(key), Box::new(value))
            }
            Rule::fn_type => {
                let mut types = Vec::new();
                for part in atom.into_inner() {
                    if part.as_rule() == Rule::type_expr {
                        types.push(self.type_expr(part)?);
                    }
                }
                let returns = types.pop().ok_or_else(|| internal(atom_span))?;
                TypeExprKind::Fn(types, Box::new(returns))
            }
            _ => TypeExprKind::Named(self.ident(self.next(&mut atom.into_inner(), atom_span)?)),
        };
        let marks: Vec<Span> = inner.map(|mark| self.span(&mark)).collect();
        let base = TypeExpr { kind, span: atom_span };
        match marks.as_slice() {
            [] => Ok(base),
            [_] => Ok(TypeExpr { kind: TypeExprKind::Optional(Box::new(base)), span }),
            [first, .., last] => {
                let extra = Span::new(self.file, (first.end) as usize, last.end as usize);
                Err(Diagnostic::new(Code::InvalidType, extra, "a type can be optional only once")
                    .label("remove the extra `?`")
                    .note("`T??` would mean the same as `T?`: there is one `none`")
                    .fix("remove the extra `?`", extra, ""))
            }
        }
    }

    fn params(&mut self, pair: Pair<'_, Rule>) -> Result<Vec<Param>> {
        let mut params = Vec::new();
        for param in pair.into_inner() {
            let span = self.span(&param);
            let mut inner = param.into_inner();
            let name = self.ident(self.next(&mut inner, span)?);
            let ty = self.type_expr(self.next(&mut inner, span)?)?;
            let default = match inner.next() {
                Some(value) => Some(self.expr(value)?),
                None => None,
            };
            params.push(Param { name, ty, default, span });
        }
        Ok(params)
    }

    fn endpoint(&mut self, pair: Pair<'_, Rule>) -> Result<EndpointDecl> {
        let span = self.span(&pair);
        let doc = self.doc_before(span.start as usize);
        let mut inner = pair.into_inner();
        let _keyword = inner.next();
        let name = self.ident(self.next(&mut inner, span)?);
        let params_pair = self.next(&mut inner, span)?;
        let params_span = self.span(&params_pair);
        let params = self.params(params_pair)?;
        let mut returns = None;
        let mut clauses = Vec::new();
        for part in inner {
            match part.as_rule() {
                Rule::return_type => {
                    let return_span = self.span(&part);
                    let mut stream = false;
                    let mut ty = None;
                    for piece in part.into_inner() {
                        match piece.as_rule() {
                            Rule::kw_stream => stream = true,
                            _ => ty = Some(self.type_expr(piece)?),
                        }
                    }
                    let ty = ty.ok_or_else(|| internal(return_span))?;
                    returns = Some(ReturnType { stream, ty, span: return_span });
                }
                _ => clauses.push(self.clause(part)?),
            }
        }
        Ok(EndpointDecl { name, params, params_span, returns, clauses, doc, span })
    }

    fn clause(&mut self, pair: Pair<'_, Rule>) -> Result<Clause> {
        let span = self.span(&pair);
        let colon = pair.as_str().get(..).map(clause_has_colon).unwrap_or(false);
        let mut inner = pair.into_inner();
        let key = self.ident(self.next(&mut inner, span)?);
        let value_pair = self.next(&mut inner, span)?;
        let value = match value_pair.as_rule() {
            Rule::arms => {
                let arms_span = self.span(&value_pair);
                ClauseValue::Arms(self.arms(value_pair)?, arms_span)
            }
            _ => ClauseValue::Setting(self.setting_value(value_pair)?),
        };
        Ok(Clause { key, colon, value, span })
    }

    fn setting_value(&mut self, pair: Pair<'_, Rule>) -> Result<SettingValue> {
        let span = self.span(&pair);
        let mut phrases = Vec::new();
        for phrase in pair.into_inner() {
            let phrase_span = self.span(&phrase);
            let mut atoms = Vec::new();
            for atom in phrase.into_inner() {
                let atom_span = self.span(&atom);
                let inner = self.next(&mut atom.into_inner(), atom_span)?;
                if inner.as_rule() == Rule::ident_any {
                    atoms.push(Expr { kind: ExprKind::Name(self.ident(inner)), span: atom_span });
                } else {
                    atoms.push(self.expr(inner)?);
                }
            }
            phrases.push(Phrase { atoms, span: phrase_span });
        }
        Ok(SettingValue { phrases, span })
    }

    fn arms(&mut self, pair: Pair<'_, Rule>) -> Result<Vec<Arm>> {
        let mut arms = Vec::new();
        for arm in pair.into_inner() {
            let span = self.span(&arm);
            let mut inner = arm.into_inner();
            let pattern = self.pattern(self.next(&mut inner, span)?)?;
            let value = self.expr(self.next(&mut inner, span)?)?;
            arms.push(Arm { pattern, value, span });
        }
        Ok(arms)
    }

    fn pattern(&mut self, pair: Pair<'_, Rule>) -> Result<Pattern> {
        let span = self.span(&pair);
        let mut alternatives = Vec::new();
        for alternative in pair.into_inner() {
            let alt_span = self.span(&alternative);
            alternatives.push(match alternative.as_rule() {
                Rule::wildcard => PatternAlt::Wildcard(alt_span),
                Rule::none_lit => PatternAlt::None(alt_span),
                Rule::bool_lit => PatternAlt::Bool(alternative.as_str() == "true", alt_span),
                Rule::number => match self.number(&alternative)? {
                    ExprKind::Int(value) => PatternAlt::Int(value, alt_span),
                    _ => PatternAlt::Number(alternative.as_str().replace('_', ""), alt_span),
                },
                Rule::quantity => PatternAlt::Quantity(self.quantity(&alternative), alt_span),
                Rule::string => {
                    let literal = self.string(alternative)?;
                    match literal.as_plain() {
                        Some(text) => PatternAlt::String(text, alt_span),
                        None => {
                            return Err(Diagnostic::new(Code::SyntaxError, alt_span, "a pattern cannot interpolate")
                                .label("patterns are constant")
                                .help("match on the value and compare the interpolated string in the arm instead"));
                        }
                    }
                }
                _ => {
                    let mut parts = alternative.into_inner();
                    let first = self.ident(self.next(&mut parts, alt_span)?);
                    match parts.next() {
                        Some(second) => PatternAlt::Variant { qualifier: Some(first), name: self.ident(second) },
                        None => PatternAlt::Variant { qualifier: None, name: first },
                    }
                }
            });
        }
        Ok(Pattern { alternatives, span })
    }

    fn let_stmt(&mut self, pair: Pair<'_, Rule>) -> Result<LetStmt> {
        let span = self.span(&pair);
        let mut name = None;
        let mut ty = None;
        let mut value = None;
        let mut catch = None;
        for part in pair.into_inner() {
            match part.as_rule() {
                Rule::kw_let => {}
                Rule::ident => name = Some(self.ident(part)),
                Rule::type_expr => ty = Some(self.type_expr(part)?),
                Rule::catch_clause => catch = Some(self.catch(part)?),
                _ => value = Some(self.expr(part)?),
            }
        }
        let name = name.ok_or_else(|| internal(span))?;
        let value = value.ok_or_else(|| internal(span))?;
        Ok(LetStmt { name, ty, value, catch, span })
    }

    fn catch(&mut self, pair: Pair<'_, Rule>) -> Result<Catch> {
        let span = self.span(&pair);
        let mut arms = Vec::new();
        for arm in pair.into_inner() {
            if arm.as_rule() != Rule::catch_arm {
                continue;
            }
            let arm_span = self.span(&arm);
            let parts: Vec<Pair<'_, Rule>> = arm.into_inner().collect();
            let (target, action) = match parts.as_slice() {
                [wildcard, action] if wildcard.as_rule() == Rule::wildcard => {
                    (CatchTarget::Wildcard(self.span(wildcard)), action.clone())
                }
                [name, action] => (CatchTarget::Error { api: None, name: self.ident(name.clone()) }, action.clone()),
                [api, name, action] => (
                    CatchTarget::Error { api: Some(self.ident(api.clone())), name: self.ident(name.clone()) },
                    action.clone(),
                ),
                _ => return Err(internal(arm_span)),
            };
            arms.push(CatchArm { target, action: self.ident(action), span: arm_span });
        }
        Ok(Catch { arms, span })
    }

    fn block(&mut self, pair: Pair<'_, Rule>) -> Result<Block> {
        let span = self.span(&pair);
        let stmts = pair.into_inner().map(|stmt| self.stmt(stmt)).collect::<Result<_>>()?;
        Ok(Block { stmts, span })
    }

    fn stmt(&mut self, pair: Pair<'_, Rule>) -> Result<Stmt> {
        let span = self.span(&pair);
        let rule = pair.as_rule();
        let kind = match rule {
            Rule::let_stmt => StmtKind::Let(self.let_stmt(pair)?),
            Rule::for_stmt => {
                let mut inner = pair.into_inner();
                let _keyword = inner.next();
                let binding = self.ident(self.next(&mut inner, span)?);
                let _in = inner.next();
                let iterable = self.expr(self.next(&mut inner, span)?)?;
                let mut filter = None;
                let mut dedupe = None;
                let mut body = None;
                for part in inner {
                    match part.as_rule() {
                        Rule::where_clause => {
                            let part_span = self.span(&part);
                            let mut parts = part.into_inner();
                            let _keyword = parts.next();
                            filter = Some(self.expr(self.next(&mut parts, part_span)?)?);
                        }
                        Rule::dedupe_clause => {
                            let part_span = self.span(&part);
                            let mut parts = part.into_inner();
                            let _keyword = parts.next();
                            dedupe = Some(self.expr(self.next(&mut parts, part_span)?)?);
                        }
                        _ => body = Some(self.block(part)?),
                    }
                }
                let body = body.ok_or_else(|| internal(span))?;
                StmtKind::For(ForStmt { binding, iterable, filter, dedupe, body })
            }
            Rule::if_stmt => StmtKind::If(self.if_stmt(pair)?),
            Rule::skip_stmt => StmtKind::Skip,
            Rule::fail_stmt => {
                let mut inner = pair.into_inner();
                let _keyword = inner.next();
                let message = self.next(&mut inner, span)?;
                let message_span = self.span(&message);
                StmtKind::Fail(Expr { kind: ExprKind::String(self.string(message)?), span: message_span })
            }
            Rule::log_stmt => {
                let mut inner = pair.into_inner();
                let _keyword = inner.next();
                let first = self.next(&mut inner, span)?;
                if first.as_rule() == Rule::log_level {
                    let level = self.ident(first);
                    let message = self.expr(self.next(&mut inner, span)?)?;
                    StmtKind::Log { level: Some(level), message }
                } else {
                    StmtKind::Log { level: None, message: self.expr(first)? }
                }
            }
            Rule::assign_stmt => {
                let mut inner = pair.into_inner();
                let target = self.ident(self.next(&mut inner, span)?);
                let value = self.expr(self.next(&mut inner, span)?)?;
                StmtKind::Assign { target, value }
            }
            _ => {
                let mut inner = pair.into_inner();
                let expr = self.expr(self.next(&mut inner, span)?)?;
                let catch = match inner.next() {
                    Some(catch) => Some(self.catch(catch)?),
                    None => None,
                };
                StmtKind::Expr { expr, catch }
            }
        };
        Ok(Stmt { kind, span })
    }

    fn if_stmt(&mut self, pair: Pair<'_, Rule>) -> Result<IfStmt> {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let _keyword = inner.next();
        let condition = self.expr(self.next(&mut inner, span)?)?;
        let then_block = self.block(self.next(&mut inner, span)?)?;
        let _else = inner.next();
        let else_branch = match inner.next() {
            Some(branch) if branch.as_rule() == Rule::if_stmt => {
                let branch_span = self.span(&branch);
                let nested = self.if_stmt(branch)?;
                Some(ElseBranch::If(Box::new(Stmt { kind: StmtKind::If(nested), span: branch_span })))
            }
            Some(branch) => Some(ElseBranch::Block(self.block(branch)?)),
            None => None,
        };
        Ok(IfStmt { condition, then_block, else_branch })
    }

    fn args(&mut self, pair: Pair<'_, Rule>) -> Result<Vec<Arg>> {
        let mut args = Vec::new();
        for arg in pair.into_inner() {
            let span = self.span(&arg);
            let inner = self.next(&mut arg.into_inner(), span)?;
            match inner.as_rule() {
                Rule::named_arg => {
                    let mut parts = inner.into_inner();
                    let name = self.ident(self.next(&mut parts, span)?);
                    let value = self.expr(self.next(&mut parts, span)?)?;
                    args.push(Arg { name: Some(name), value, span });
                }
                _ => args.push(Arg { name: None, value: self.expr(inner)?, span }),
            }
        }
        Ok(args)
    }

    /// Enters one level of expression nesting worth `cost` levels of tree depth.
    fn enter(&mut self, cost: usize, span: Span) -> Result<usize> {
        let saved = self.depth;
        self.depth += cost;
        if self.depth > MAX_EXPRESSION_DEPTH {
            return Err(too_deep(span));
        }
        Ok(saved)
    }

    fn expr(&mut self, pair: Pair<'_, Rule>) -> Result<Expr> {
        crate::with_stack(|| self.expr_inner(pair))
    }

    fn expr_inner(&mut self, pair: Pair<'_, Rule>) -> Result<Expr> {
        let span = self.span(&pair);
        if pair.as_rule() != Rule::expr {
            return Err(internal(span));
        }
        let operators = pair.clone().into_inner().filter(|part| part.as_rule() != Rule::postfix_expr).count();
        let saved = self.enter(operators + 1, span)?;
        // The pratt parser takes closures; collect their first error here.
        let mut failure: Option<Diagnostic> = None;
        let result = {
            let failure_cell = std::cell::RefCell::new(&mut failure);
            let this = std::cell::RefCell::new(&mut *self);
            PRATT
                .map_primary(|primary| {
                    let primary_span = this.borrow().span(&primary);
                    match this.borrow_mut().postfix_expr(primary) {
                        Ok(expr) => expr,
                        Err(diagnostic) => {
                            failure_cell.borrow_mut().get_or_insert(diagnostic);
                            placeholder(primary_span)
                        }
                    }
                })
                .map_prefix(|op, operand| {
                    let op_span = this.borrow().span(&op);
                    let op = if op.as_rule() == Rule::op_not { UnaryOp::Not } else { UnaryOp::Neg };
                    let span = op_span.to(operand.span);
                    // `-9223372036854775808` is the smallest Int, though its digits alone are out of range.
                    if op == UnaryOp::Neg && this.borrow().is_int_min_digits(operand.span) {
                        let mut failure = failure_cell.borrow_mut();
                        if failure.as_ref().is_some_and(|diagnostic| {
                            diagnostic.code == Code::NumberOutOfRange && diagnostic.primary_span() == operand.span
                        }) {
                            **failure = None;
                            return Expr { kind: ExprKind::Int(i64::MIN), span };
                        }
                    }
                    Expr { kind: ExprKind::Unary { op, op_span, operand: Box::new(operand) }, span }
                })
                .map_infix(|lhs, op, rhs| {
                    let op_span = this.borrow().span(&op);
                    let op = binary_op(op.as_rule());
                    let span = lhs.span.to(rhs.span);
                    Expr { kind: ExprKind::Binary { op, op_span, lhs: Box::new(lhs), rhs: Box::new(rhs) }, span }
                })
                .parse(pair.into_inner())
        };
        self.depth = saved;
        match failure {
            Some(diagnostic) => Err(diagnostic),
            None => Ok(result),
        }
    }

    fn postfix_expr(&mut self, pair: Pair<'_, Rule>) -> Result<Expr> {
        let span = self.span(&pair);
        let postfix_count = pair.clone().into_inner().count().saturating_sub(1);
        let saved = self.enter(postfix_count, span)?;
        let mut inner = pair.into_inner();
        let primary = self.next(&mut inner, span)?;
        let mut expr = self.primary(primary)?;
        for postfix in inner {
            let postfix_span = self.span(&postfix);
            let start = expr.span;
            expr = match postfix.as_rule() {
                Rule::field_access | Rule::opt_field => {
                    let optional = postfix.as_rule() == Rule::opt_field;
                    let name = self.ident(self.next(&mut postfix.into_inner(), postfix_span)?);
                    let span = start.to(name.span);
                    Expr { kind: ExprKind::Field { base: Box::new(expr), name, optional }, span }
                }
                Rule::call_args => {
                    let args = match postfix.clone().into_inner().next() {
                        Some(args) => self.args(args)?,
                        None => Vec::new(),
                    };
                    Expr {
                        kind: ExprKind::Call { callee: Box::new(expr), args, args_span: postfix_span },
                        span: start.to(postfix_span),
                    }
                }
                _ => {
                    let index = self.expr(self.next(&mut postfix.into_inner(), postfix_span)?)?;
                    Expr {
                        kind: ExprKind::Index { base: Box::new(expr), index: Box::new(index) },
                        span: start.to(postfix_span),
                    }
                }
            };
        }
        self.depth = saved;
        Ok(expr)
    }

    fn primary(&mut self, pair: Pair<'_, Rule>) -> Result<Expr> {
        let span = self.span(&pair);
        let inner = self.next(&mut pair.into_inner(), span)?;
        let kind = match inner.as_rule() {
            Rule::paren_expr => ExprKind::Paren(Box::new(self.expr(self.next(&mut inner.into_inner(), span)?)?)),
            Rule::list_lit => {
                let items = inner.into_inner().map(|item| self.expr(item)).collect::<Result<_>>()?;
                ExprKind::List(items)
            }
            Rule::object_lit => ExprKind::Object { name: None, fields: self.object_fields(inner)? },
            Rule::record_lit => {
                let mut parts = inner.into_inner();
                let name = self.ident(self.next(&mut parts, span)?);
                let fields = self.object_fields(self.next(&mut parts, span)?)?;
                ExprKind::Object { name: Some(name), fields }
            }
            Rule::lambda => {
                let mut params = Vec::new();
                let mut body = None;
                for part in inner.into_inner() {
                    match part.as_rule() {
                        Rule::ident => params.push(self.ident(part)),
                        _ => body = Some(self.expr(part)?),
                    }
                }
                let body = body.ok_or_else(|| internal(span))?;
                ExprKind::Lambda { params, body: Box::new(body) }
            }
            Rule::if_expr => return self.if_expr(inner),
            Rule::match_expr => {
                let mut parts = inner.into_inner();
                let _keyword = parts.next();
                let scrutinee = self.expr(self.next(&mut parts, span)?)?;
                let arms = self.arms(self.next(&mut parts, span)?)?;
                ExprKind::Match { scrutinee: Box::new(scrutinee), arms }
            }
            Rule::quantity => ExprKind::Quantity(self.quantity(&inner)),
            Rule::number => self.number(&inner)?,
            Rule::string => ExprKind::String(self.string(inner)?),
            Rule::bool_lit => ExprKind::Bool(inner.as_str() == "true"),
            Rule::none_lit => ExprKind::None,
            _ => ExprKind::Name(self.ident(inner)),
        };
        Ok(Expr { kind, span })
    }

    fn if_expr(&mut self, pair: Pair<'_, Rule>) -> Result<Expr> {
        let span = self.span(&pair);
        let parts: Vec<Pair<'_, Rule>> =
            pair.into_inner().filter(|part| !matches!(part.as_rule(), Rule::kw_if | Rule::kw_else)).collect();
        let [condition, then_branch, else_branch] =
            <[Pair<'_, Rule>; 3]>::try_from(parts).map_err(|_| internal(span))?;
        let condition = self.expr(condition)?;
        let then_branch = self.expr(then_branch)?;
        let else_branch = match else_branch.as_rule() {
            Rule::if_expr => self.if_expr(else_branch)?,
            _ => self.expr(else_branch)?,
        };
        Ok(Expr {
            kind: ExprKind::If {
                condition: Box::new(condition),
                then_branch: Box::new(then_branch),
                else_branch: Box::new(else_branch),
            },
            span,
        })
    }

    fn object_fields(&mut self, pair: Pair<'_, Rule>) -> Result<Vec<ObjectField>> {
        let mut fields = Vec::new();
        for field in pair.into_inner() {
            let span = self.span(&field);
            let mut inner = field.into_inner();
            let key_pair = self.next(&mut inner, span)?;
            let key = match key_pair.as_rule() {
                Rule::string => {
                    let key_span = self.span(&key_pair);
                    let literal = self.string(key_pair)?;
                    match literal.as_plain() {
                        Some(text) => ObjectKey::String(text, key_span),
                        None => {
                            return Err(Diagnostic::new(Code::SyntaxError, key_span, "a key cannot interpolate")
                                .label("keys are constant")
                                .help("write the key as plain text"));
                        }
                    }
                }
                _ => ObjectKey::Ident(self.ident(key_pair)),
            };
            let value = self.expr(self.next(&mut inner, span)?)?;
            fields.push(ObjectField { key, value, span });
        }
        Ok(fields)
    }

    /// Whether `span` holds the digits of `9223372036854775808` (the
    /// magnitude of the smallest Int), underscores allowed.
    fn is_int_min_digits(&self, span: Span) -> bool {
        // `text` is the whole file: spans index it directly.
        let text = self.text.get(span.start as usize..span.end as usize);
        text.is_some_and(|text| text.replace('_', "") == "9223372036854775808")
    }

    fn number(&self, pair: &Pair<'_, Rule>) -> Result<ExprKind> {
        let text = pair.as_str().replace('_', "");
        if text.contains('.') {
            return Ok(ExprKind::Number(text));
        }
        match text.parse::<i64>() {
            Ok(value) => Ok(ExprKind::Int(value)),
            Err(_) => {
                let span = self.span(pair);
                Err(Diagnostic::new(Code::NumberOutOfRange, span, "integer literal out of range")
                    .label(format!("larger than the largest Int, {}", i64::MAX))
                    .help("Int is a signed 64-bit integer; use a Decimal literal such as `12345678901234567890.0` for larger values"))
            }
        }
    }

    fn quantity(&self, pair: &Pair<'_, Rule>) -> Quantity {
        let text = pair.as_str();
        let unit_start = text.find(|c: char| c.is_ascii_alphabetic() || c == '_').unwrap_or(text.len());
        let span = self.span(pair);
        Quantity {
            number: text[..unit_start].replace('_', ""),
            unit: text[unit_start..].to_owned(),
            unit_span: Span::new(self.file, span.start as usize + unit_start, span.end as usize),
        }
    }

    fn string(&mut self, pair: Pair<'_, Rule>) -> Result<StringLit> {
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut text_start: Option<Span> = None;
        for part in pair.into_inner() {
            let part_span = self.span(&part);
            match part.as_rule() {
                Rule::string_text => {
                    text.push_str(part.as_str());
                    text_start = Some(text_start.map_or(part_span, |start| start.to(part_span)));
                }
                Rule::escape => {
                    text.push(decode_escape(part.as_str()));
                    text_start = Some(text_start.map_or(part_span, |start| start.to(part_span)));
                }
                _ => {
                    if let Some(text_span) = text_start.take() {
                        parts.push(StringPart::Text(std::mem::take(&mut text), text_span));
                    }
                    let expr = self.expr(self.next(&mut part.into_inner(), part_span)?)?;
                    parts.push(StringPart::Interpolation(expr));
                }
            }
        }
        if let Some(text_span) = text_start {
            parts.push(StringPart::Text(text, text_span));
        }
        Ok(StringLit { parts })
    }
}

fn clause_has_colon(text: &str) -> bool {
    let after_key = text.trim_start_matches(|c: char| c.is_ascii_alphanumeric() || c == '_');
    after_key.trim_start().starts_with(':')
}

fn decode_escape(escape: &str) -> char {
    let body = &escape[1..];
    match body {
        "n" => '\n',
        "t" => '\t',
        "r" => '\r',
        "0" => '\0',
        _ => {
            if let Some(hex) = body.strip_prefix("u{").and_then(|rest| rest.strip_suffix('}')) {
                u32::from_str_radix(hex, 16).ok().and_then(char::from_u32).unwrap_or('\u{FFFD}')
            } else {
                body.chars().next().unwrap_or('\\')
            }
        }
    }
}

fn binary_op(rule: Rule) -> BinaryOp {
    match rule {
        Rule::op_coalesce => BinaryOp::Coalesce,
        Rule::op_or => BinaryOp::Or,
        Rule::op_and => BinaryOp::And,
        Rule::op_eq => BinaryOp::Eq,
        Rule::op_ne => BinaryOp::Ne,
        Rule::op_lt => BinaryOp::Lt,
        Rule::op_le => BinaryOp::Le,
        Rule::op_gt => BinaryOp::Gt,
        Rule::op_ge => BinaryOp::Ge,
        Rule::op_add => BinaryOp::Add,
        Rule::op_sub => BinaryOp::Sub,
        Rule::op_mul => BinaryOp::Mul,
        Rule::op_div => BinaryOp::Div,
        _ => BinaryOp::Rem,
    }
}

fn placeholder(span: Span) -> Expr {
    Expr { kind: ExprKind::None, span }
}

/// A tree shape the grammar cannot produce; reported rather than panicking.
fn internal(span: Span) -> Diagnostic {
    Diagnostic::new(Code::SyntaxError, span, "the parser could not read this declaration")
        .label("unexpected shape")
        .note("this is a bug in integ's parser: please report it with this file")
}
