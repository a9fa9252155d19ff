//! Apis and endpoints.
//!
//! In: `api` declarations. Out: [`ApiInfo`] (endpoint signatures and error
//! names, resolved in phase 2 so flows can call any endpoint) and the
//! diagnostics of every clause: base URLs, auth, headers, methods and path
//! templates, query and bodies, response selection, pagination, error
//! mapping, idempotency and the rule that a POST or PATCH is retried only
//! with an idempotency key or an explicit `idempotent: true`.

use std::collections::HashMap;

use super::literals::{self, StatusPattern};
use super::policy::PolicyInfo;
use super::scope::{BodyKind, Cx, LocalKind, Secrets};
use super::types::Ty;
use super::{Checker, ParamSig, SymbolKind, suggest};
use crate::diagnostic::{Code, Diagnostic};
use crate::source::{FileId, Span};
use crate::syntax::ast::{self, ApiItem, Clause, ClauseValue, Expr, ExprKind, StringPart};

pub const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];
/// Error names every api has.
pub const BUILTIN_ERRORS: &[&str] = &["Http", "Timeout", "Connection", "Decode", "CircuitOpen", "Auth"];

pub const API_CLAUSES: &[&str] = &["base_url", "auth", "policy", "rate_limit", "concurrency", "headers", "errors"];
pub const ENDPOINT_CLAUSES: &[&str] = &[
    "query",
    "headers",
    "body",
    "response",
    "records",
    "select",
    "paginate",
    "max_pages",
    "errors",
    "idempotency_key",
    "idempotency_header",
    "idempotent",
    "policy",
];

/// A named error of an api or endpoint: which statuses raise it.
#[derive(Clone, Debug, PartialEq)]
pub struct ErrorName {
    pub name: String,
    pub span: Span,
    pub patterns: Vec<StatusPattern>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct EndpointInfo {
    pub name: String,
    pub span: Span,
    pub params: Vec<ParamSig>,
    /// For `calls(Api.endpoint)` in tests.
    pub params_record: super::types::RecordId,
    /// What a call gives: `Unit`, a value, or `Stream(T)`.
    pub result: Ty,
    pub errors: Vec<ErrorName>,
    pub method: Option<String>,
}

impl EndpointInfo {
    pub fn is_stream(&self) -> bool {
        matches!(self.result, Ty::Stream(_))
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ApiInfo {
    pub name: String,
    pub span: Span,
    pub file: FileId,
    pub endpoints: Vec<EndpointInfo>,
    pub errors: Vec<ErrorName>,
}

impl ApiInfo {
    pub fn endpoint(&self, name: &str) -> Option<usize> {
        self.endpoints.iter().position(|endpoint| endpoint.name == name)
    }

    /// Every error name a call of `endpoint` can raise.
    pub fn error_names(&self, endpoint: Option<usize>) -> Vec<String> {
        let mut names: Vec<String> = BUILTIN_ERRORS.iter().map(|name| (*name).to_owned()).collect();
        names.extend(self.errors.iter().map(|error| error.name.clone()));
        if let Some(endpoint) = endpoint.and_then(|index| self.endpoints.get(index)) {
            names.extend(endpoint.errors.iter().map(|error| error.name.clone()));
        }
        names.dedup();
        names
    }
}

impl Checker<'_> {
    /// Phase 2: endpoint signatures and error names.
    pub(crate) fn resolve_api(&mut self, file: FileId, _index: usize, decl: &ast::ApiDecl) {
        if !matches!(self.symbol_kind_here(&decl.name), Some(SymbolKind::Api(_))) {
            return;
        }
        let mut info = ApiInfo {
            name: decl.name.name.clone(),
            span: decl.name.span,
            file,
            endpoints: Vec::new(),
            errors: Vec::new(),
        };
        for item in &decl.items {
            if let ApiItem::Clause(clause) = item
                && clause.key.name == "errors"
            {
                info.errors = self.error_arms(clause, false).0;
            }
        }
        for item in &decl.items {
            let ApiItem::Endpoint(endpoint) = item else {
                continue;
            };
            if let Some(first) = info.endpoints.iter().find(|existing| existing.name == endpoint.name.name) {
                let first = first.span;
                self.report(
                    Diagnostic::new(
                        Code::DuplicateMember,
                        endpoint.name.span,
                        format!("endpoint `{}` is declared twice in `{}`", endpoint.name.name, decl.name.name),
                    )
                    .label("declared again")
                    .secondary(first, "first declared here")
                    .help("rename one of them"),
                );
                continue;
            }
            let params = self.params(&endpoint.params, &[], false);
            for param in &params {
                if matches!(param.name.as_str(), "body" | "headers" | "status") {
                    self.report(
                        Diagnostic::new(
                            Code::ReservedName,
                            param.span,
                            format!("`{}` names the response in `records`, `select` and `paginate`", param.name),
                        )
                        .label("this parameter would be hidden there")
                        .help(format!("rename it, such as `{}_value`", param.name)),
                    );
                }
            }
            let result = match &endpoint.returns {
                None => Ty::Unit,
                Some(returns) => {
                    let ty = self.resolve_type(&returns.ty, &[]);
                    self.require_data_type(&ty, returns.ty.span, "a response");
                    if returns.stream {
                        if matches!(ty, Ty::List(_)) {
                            self.report(
                                Diagnostic::new(
                                    Code::InvalidType,
                                    returns.ty.span,
                                    "a stream yields records, not lists",
                                )
                                .label("write the type of one record")
                                .help("`-> stream Order` streams `Order`s; the page's list is selected with `records`"),
                            );
                        }
                        if ty.is_optional() {
                            self.report(
                                Diagnostic::new(
                                    Code::InvalidType,
                                    returns.ty.span,
                                    "a stream's records cannot be optional",
                                )
                                .label("remove the `?`"),
                            );
                        }
                        Ty::Stream(Box::new(ty))
                    } else {
                        ty
                    }
                }
            };
            let qualified = format!("{}.{}", decl.name.name, endpoint.name.name);
            let record = self.types.add_record(super::calls::params_record(&qualified, &params, endpoint.name.span));
            let mut errors = Vec::new();
            for clause in endpoint.clauses.iter().filter(|clause| clause.key.name == "errors") {
                let (names, none_arm) = self.error_arms(clause, true);
                errors.extend(names);
                if let Some(none_span) = none_arm
                    && !result.is_optional()
                    && !result.is_error()
                {
                    let shown = self.show(&result);
                    let mut diagnostic = Diagnostic::new(
                        Code::TypeMismatch,
                        none_span,
                        format!("`=> none` needs an optional result, but `{}` returns `{shown}`", endpoint.name.name),
                    )
                    .label("this status would give none");
                    if let Some(returns) = &endpoint.returns
                        && !returns.stream
                    {
                        diagnostic =
                            diagnostic.maybe_fix("make the result optional", returns.ty.span.shrink_to_end(), "?");
                    }
                    self.report(diagnostic);
                }
            }
            let method = endpoint
                .clauses
                .iter()
                .find(|clause| METHODS.contains(&clause.key.name.as_str()))
                .map(|clause| clause.key.name.clone());
            info.endpoints.push(EndpointInfo {
                name: endpoint.name.name.clone(),
                span: endpoint.name.span,
                params,
                params_record: record,
                result,
                errors,
                method,
            });
        }
        let index = self.apis.len();
        self.apis.push(info);
        if let Some(&symbol) = self.by_name.get(&decl.name.name) {
            self.symbols[symbol].kind = SymbolKind::Api(index);
        }
    }

    /// `errors { 404 => NotFound, 5xx => Unavailable, 410 => none, _ => Other }`.
    /// Returns the names, and the span of a `=> none` arm (endpoints only).
    fn error_arms(&mut self, clause: &Clause, allow_none: bool) -> (Vec<ErrorName>, Option<Span>) {
        let ClauseValue::Arms(arms, _) = &clause.value else {
            self.report(
                Diagnostic::new(
                    Code::InvalidSettingValue,
                    clause.value.span(),
                    "`errors` maps statuses to error names",
                )
                .label("expected `{ 404 => NotFound, 5xx => Unavailable }`"),
            );
            return (Vec::new(), None);
        };
        let mut names: Vec<ErrorName> = Vec::new();
        let mut none_arm = None;
        let mut covered: Vec<(StatusPattern, Span)> = Vec::new();
        for arm in arms {
            let name = match &arm.value.kind {
                ExprKind::Name(name) => {
                    if BUILTIN_ERRORS.contains(&name.name.as_str()) {
                        self.report(
                            Diagnostic::new(
                                Code::ReservedName,
                                name.span,
                                format!("`{}` is a built-in error name", name.name),
                            )
                            .label("every api already has this error")
                            .help("choose a more specific name, such as `ServiceUnavailable`"),
                        );
                        continue;
                    }
                    Some(name)
                }
                ExprKind::None if allow_none => {
                    none_arm = Some(arm.value.span);
                    None
                }
                ExprKind::None => {
                    self.report(
                        Diagnostic::new(
                            Code::MisplacedClause,
                            arm.value.span,
                            "`=> none` belongs to an endpoint's `errors`",
                        )
                        .label("an api-wide arm cannot make every endpoint return none")
                        .help("move the arm into the endpoints whose result is optional"),
                    );
                    continue;
                }
                _ => {
                    self.report(
                        Diagnostic::new(
                            Code::InvalidSettingValue,
                            arm.value.span,
                            "an error is named by an identifier",
                        )
                        .label("expected a name such as `NotFound`, or `none`"),
                    );
                    continue;
                }
            };
            let mut patterns = Vec::new();
            for alternative in &arm.pattern.alternatives {
                let (pattern, span) = match alternative {
                    ast::PatternAlt::Wildcard(span) => (StatusPattern::Any, *span),
                    ast::PatternAlt::Int(value, span) => {
                        match literals::status_pattern(&Expr { kind: ExprKind::Int(*value), span: *span }) {
                            Ok(pattern) => (pattern, *span),
                            Err(diagnostic) => {
                                self.report(diagnostic);
                                continue;
                            }
                        }
                    }
                    ast::PatternAlt::Quantity(quantity, span) => {
                        match literals::status_pattern(&Expr {
                            kind: ExprKind::Quantity(quantity.clone()),
                            span: *span,
                        }) {
                            Ok(pattern) => (pattern, *span),
                            Err(diagnostic) => {
                                self.report(diagnostic);
                                continue;
                            }
                        }
                    }
                    other => {
                        self.report(
                            Diagnostic::new(Code::InvalidStatusPattern, other.span(), "expected a status pattern")
                                .label("write a status such as `404`, a class such as `5xx`, or `_`"),
                        );
                        continue;
                    }
                };
                if let Some((_, earlier)) = covered.iter().find(|(existing, _)| pattern.covered_by(*existing)) {
                    let earlier = *earlier;
                    self.report(
                        Diagnostic::new(Code::UnreachableCode, span, format!("status `{pattern}` is already mapped"))
                            .label("this arm never matches")
                            .secondary(earlier, "an earlier arm covers it"),
                    );
                    continue;
                }
                if matches!(pattern, StatusPattern::Code(200..=399) | StatusPattern::Class(1..=3)) {
                    self.report(
                        Diagnostic::new(
                            Code::InvalidStatusPattern,
                            span,
                            format!("`{pattern}` is not an error status"),
                        )
                        .label("only 4xx and 5xx responses are errors"),
                    );
                    continue;
                }
                covered.push((pattern, span));
                patterns.push(pattern);
            }
            let Some(name) = name else { continue };
            if let Some(existing) = names.iter_mut().find(|existing| existing.name == name.name) {
                existing.patterns.extend(patterns);
            } else {
                names.push(ErrorName { name: name.name.clone(), span: name.span, patterns });
            }
        }
        (names, none_arm)
    }

    /// Phase 3: the clauses of an api and its endpoints.
    pub(crate) fn check_api(&mut self, decl: &ast::ApiDecl) {
        let Some(SymbolKind::Api(index)) = self.symbol_kind_here(&decl.name) else {
            return;
        };
        let mut seen: HashMap<String, Span> = HashMap::new();
        let mut api_policy: Option<String> = None;
        let mut has_base_url = false;
        for item in &decl.items {
            let ApiItem::Clause(clause) = item else {
                continue;
            };
            if self.duplicate_clause(&mut seen, clause) {
                continue;
            }
            match clause.key.name.as_str() {
                "base_url" => {
                    has_base_url = true;
                    self.base_url(clause);
                }
                "auth" => {
                    if let Some(value) = self.setting_of(clause) {
                        match value.single() {
                            Some(expr) => self.check_auth_value(expr),
                            None => self.report(
                                Diagnostic::new(Code::InvalidAuth, value.span, "`auth` takes one scheme")
                                    .label("expected a scheme such as `bearer(token)`"),
                            ),
                        }
                    }
                }
                "policy" => api_policy = self.policy_name(clause),
                "rate_limit" => {
                    if let Some(value) = self.setting_of(clause) {
                        self.rate(value);
                    }
                }
                "concurrency" => {
                    if let Some(value) = self.setting_of(clause) {
                        self.positive_int(value, "concurrency");
                    }
                }
                "headers" => self.headers(clause, None),
                "errors" => {}
                other => {
                    let note = match other {
                        "timeout" | "retry" | "retry_on" | "deadline" | "circuit_breaker" | "on_exhausted" => {
                            Some("timeouts and retries belong in a `policy`, named here with `policy: name`")
                        }
                        "GET" | "POST" | "PUT" | "PATCH" | "DELETE" => {
                            Some("a method line belongs inside an `endpoint`")
                        }
                        _ => None,
                    };
                    self.unknown_clause(&clause.key, other, API_CLAUSES, "api clause", note);
                }
            }
        }
        if !has_base_url {
            self.report(
                Diagnostic::new(
                    Code::MissingClause,
                    decl.name.span,
                    format!("api `{}` has no `base_url`", decl.name.name),
                )
                .label("every request needs a base URL")
                .help("add `base_url: env(\"SHOP_URL\", \"https://shop.example.com/api\")`"),
            );
        }
        for item in &decl.items {
            if let ApiItem::Endpoint(endpoint) = item {
                let Some(endpoint_index) = self.apis[index].endpoint(&endpoint.name.name) else {
                    continue;
                };
                if self.apis[index].endpoints[endpoint_index].span != endpoint.name.span {
                    continue;
                }
                self.check_endpoint(index, endpoint_index, endpoint, api_policy.as_deref());
            }
        }
    }

    fn base_url(&mut self, clause: &Clause) {
        let Some(value) = self.setting_of(clause) else {
            return;
        };
        let Some(expr) = value.single() else {
            self.report(
                Diagnostic::new(Code::InvalidUrl, value.span, "`base_url` takes one URL")
                    .label("expected a string or `env(...)`"),
            );
            return;
        };
        let mut cx = Cx::new(BodyKind::Config, Secrets::Forbidden("a base URL"));
        cx.env_allowed = true;
        let ty = self.check_expr(&mut cx, expr, Some(&Ty::String));
        if !matches!(ty, Ty::String | Ty::Error) {
            self.report_mismatch(&ty, &Ty::String, expr.span, "`base_url`");
            return;
        }
        match &expr.kind {
            ExprKind::String(literal) if literal.as_plain().is_none() => self.report(
                Diagnostic::new(Code::InvalidUrl, expr.span, "`base_url` cannot interpolate")
                    .label("a base URL is constant")
                    .help("read it from the environment: `env(\"SHOP_URL\", \"https://shop.example.com\")`"),
            ),
            _ => self.check_url_expr(expr, "`base_url`"),
        }
    }

    fn policy_name(&mut self, clause: &Clause) -> Option<String> {
        let value = self.setting_of(clause)?;
        let Some(Expr { kind: ExprKind::Name(name), .. }) = value.single() else {
            self.report(
                Diagnostic::new(Code::UnknownPolicy, value.span, "expected the name of a policy")
                    .label("not a policy name"),
            );
            return None;
        };
        match self.use_symbol(&name.name).map(|index| self.symbols[index].kind.clone()) {
            Some(SymbolKind::Policy) => Some(name.name.clone()),
            _ => {
                let candidates = self.names_where(|kind| matches!(kind, SymbolKind::Policy));
                let mut diagnostic =
                    Diagnostic::new(Code::UnknownPolicy, name.span, format!("unknown policy `{}`", name.name))
                        .label("no policy of this name");
                if let Some(best) = suggest::best(&name.name, candidates.iter().map(String::as_str)) {
                    diagnostic = diagnostic.help(format!("did you mean `{best}`?")).maybe_fix(
                        format!("use `{best}`"),
                        name.span,
                        best,
                    );
                } else {
                    diagnostic = diagnostic.help(format!("declare it: `policy {} {{ timeout: 10s }}`", name.name));
                }
                self.report(diagnostic);
                None
            }
        }
    }

    /// `headers { "Name": value }`: names are HTTP tokens; secrets and `env` allowed.
    fn headers(&mut self, clause: &Clause, endpoint_cx: Option<&mut Cx>) {
        let Some(value) = self.setting_of(clause) else {
            return;
        };
        let Some(Expr { kind: ExprKind::Object { name: None, fields }, .. }) = value.single() else {
            self.report(
                Diagnostic::new(Code::InvalidHeader, value.span, "`headers` takes `{ \"Name\": value }`")
                    .label("expected header names and values in braces"),
            );
            return;
        };
        let mut own_cx = Cx::new(BodyKind::Config, Secrets::Allowed);
        let cx = match endpoint_cx {
            Some(cx) => cx,
            None => &mut own_cx,
        };
        let saved = (cx.secrets, cx.env_allowed);
        cx.secrets = Secrets::Allowed;
        cx.env_allowed = true;
        let mut seen: Vec<String> = Vec::new();
        for field in fields {
            let header = field.key.text();
            if header.is_empty() || !header.bytes().all(is_token_byte) {
                self.report(
                    Diagnostic::new(
                        Code::InvalidHeader,
                        field.key.span(),
                        format!("`{header}` is not a valid header name"),
                    )
                    .label("header names are letters, digits and `-`, with no spaces")
                    .help("write names such as \"X-Api-Key\""),
                );
            }
            let lower = header.to_ascii_lowercase();
            if seen.contains(&lower) {
                self.report(
                    Diagnostic::new(Code::DuplicateMember, field.key.span(), format!("header `{header}` is set twice"))
                        .label("header names are case-insensitive"),
                );
            }
            if matches!(
                lower.as_str(),
                "host" | "content-length" | "transfer-encoding" | "connection" | "content-encoding" | "te" | "upgrade"
            ) {
                self.report(
                    Diagnostic::new(
                        Code::InvalidHeader,
                        field.key.span(),
                        format!("`{header}` is managed by the HTTP client"),
                    )
                    .label("integ sets this header itself")
                    .help("remove it; the client computes it from the URL and the body")
                    .fix("remove the header", field.span, ""),
                );
            }
            seen.push(lower);
            if let ExprKind::String(literal) = &field.value.kind {
                let broken = literal
                    .parts
                    .iter()
                    .any(|part| matches!(part, StringPart::Text(text, _) if text.contains(['\r', '\n', '\0'])));
                if broken {
                    self.report(
                        Diagnostic::new(
                            Code::InvalidHeader,
                            field.value.span,
                            format!("header `{header}` contains a line break or a NUL"),
                        )
                        .label("a header value is one line")
                        .help("remove the `\\n`, `\\r` or `\\0` escapes"),
                    );
                }
            }
            let ty = self.check_expr(cx, &field.value, Some(&Ty::String));
            if !(ty.is_scalar() || matches!(ty, Ty::Secret) || matches!(&ty, Ty::Optional(inner) if inner.is_scalar()))
            {
                self.report_mismatch(&ty, &Ty::String, field.value.span, &format!("header `{header}`"));
            }
        }
        cx.secrets = saved.0;
        cx.env_allowed = saved.1;
    }

    fn check_endpoint(
        &mut self,
        api: usize,
        endpoint_index: usize,
        decl: &ast::EndpointDecl,
        api_policy: Option<&str>,
    ) {
        let info = self.apis[api].endpoints[endpoint_index].clone();
        let api_name = self.apis[api].name.clone();
        let mut cx = Cx::new(BodyKind::Config, Secrets::Forbidden("a request"));
        for param in &info.params {
            cx.declare(&param.name, param.ty.clone(), param.span, LocalKind::Param);
        }
        self.check_param_defaults(&mut cx, &decl.params, &info.params);
        let mut seen: HashMap<String, Span> = HashMap::new();
        let mut method: Option<(String, Span)> = None;
        let mut response: Option<Ty> = None;
        let mut has_records = false;
        let mut idempotency_key = false;
        let mut idempotent = false;
        let mut endpoint_policy: Option<String> = None;
        let mut body_clause: Option<Span> = None;
        // Clauses that only stream endpoints take, reported together on a single-result endpoint.
        let mut stream_only: Vec<&Clause> = Vec::new();
        // `response:` first: the other clauses read `body` with its type.
        for clause in &decl.clauses {
            if clause.key.name == "response"
                && let Some(value) = self.setting_of(clause)
            {
                match value.single() {
                    Some(Expr { kind: ExprKind::Name(name), span }) => {
                        let written = ast::TypeExpr { kind: ast::TypeExprKind::Named(name.clone()), span: *span };
                        response = Some(self.resolve_type(&written, &[]));
                    }
                    _ => self.report(
                        Diagnostic::new(Code::InvalidSettingValue, value.span, "`response` takes the name of a type")
                            .label("expected a type name such as `OrdersPage`"),
                    ),
                }
            }
        }
        for clause in &decl.clauses {
            let key = clause.key.name.as_str();
            if METHODS.contains(&key)
                || (!ENDPOINT_CLAUSES.contains(&key) && METHODS.contains(&key.to_ascii_uppercase().as_str()))
            {
                if let Some((_, first)) = &method {
                    let first = *first;
                    self.report(
                        Diagnostic::new(Code::DuplicateMember, clause.key.span, "an endpoint has one method line")
                            .label("second method line")
                            .secondary(first, "first method line"),
                    );
                    continue;
                }
                let upper = key.to_ascii_uppercase();
                if key != upper {
                    self.report(
                        Diagnostic::new(
                            Code::InvalidHttpMethod,
                            clause.key.span,
                            format!("HTTP methods are written in capitals: `{upper}`"),
                        )
                        .label("lowercase method")
                        .fix(format!("write `{upper}`"), clause.key.span, upper.clone()),
                    );
                }
                method = Some((upper, clause.key.span));
                self.path_template(&mut cx, clause, &info);
                continue;
            }
            if self.duplicate_clause(&mut seen, clause) {
                continue;
            }
            match key {
                "query" => self.query(&mut cx, clause),
                "headers" => self.headers(clause, Some(&mut cx)),
                "body" => {
                    body_clause = Some(clause.span);
                    self.body(&mut cx, clause);
                }
                "response" => {
                    if matches!(info.result, Ty::Unit) {
                        self.misplaced(
                            clause,
                            "this endpoint returns nothing, so its body is not read",
                            Some("declare a result, such as `-> Order`, or remove `response`"),
                        );
                    }
                }
                "records" => {
                    has_records = true;
                    match &info.result {
                        Ty::Stream(item) => {
                            let item = (**item).clone();
                            self.response_expr(&mut cx, clause, response.as_ref(), &item.list(), "`records`");
                        }
                        _ => stream_only.push(clause),
                    }
                }
                "select" => match &info.result {
                    Ty::Stream(_) => {
                        self.misplaced(clause, "`select` picks a single result; stream endpoints use `records`", None)
                    }
                    Ty::Unit => self.misplaced(
                        clause,
                        "this endpoint returns nothing, so there is nothing to select",
                        Some("declare a result type: `-> Order`"),
                    ),
                    result => {
                        let result = result.clone();
                        self.response_expr(&mut cx, clause, response.as_ref(), &result, "`select`");
                    }
                },
                "paginate" => match &info.result {
                    Ty::Stream(_) => self.paginate(&mut cx, clause, response.as_ref()),
                    _ => stream_only.push(clause),
                },
                "max_pages" => {
                    if !info.is_stream() {
                        stream_only.push(clause);
                    } else if let Some(value) = self.setting_of(clause) {
                        self.positive_int(value, "max_pages");
                    }
                }
                "errors" => {}
                "idempotency_key" => {
                    idempotency_key = true;
                    if let Some(value) = self.setting_of(clause) {
                        if let Some(expr) = value.single() {
                            cx.secrets = Secrets::Forbidden("an idempotency key");
                            let ty = self.check_expr(&mut cx, expr, Some(&Ty::String));
                            cx.secrets = Secrets::Forbidden("a request");
                            if !matches!(ty, Ty::String | Ty::Error) {
                                self.report_mismatch(&ty, &Ty::String, expr.span, "`idempotency_key`");
                            }
                        } else {
                            self.malformed_value(
                                value.span,
                                "`idempotency_key` takes one string",
                                "a string such as \"{order.id}\"",
                            );
                        }
                    }
                }
                "idempotency_header" => {
                    if !decl.clauses.iter().any(|other| other.key.name == "idempotency_key") {
                        self.misplaced(
                            clause,
                            "there is no `idempotency_key` to send",
                            Some("add `idempotency_key: \"...\"`, or remove this clause"),
                        );
                    } else if let Some(value) = self.setting_of(clause) {
                        match value.single().map(|expr| &expr.kind) {
                            Some(ExprKind::String(literal))
                                if literal
                                    .as_plain()
                                    .is_some_and(|text| !text.is_empty() && text.bytes().all(is_token_byte)) => {}
                            _ => self.report(
                                Diagnostic::new(
                                    Code::InvalidHeader,
                                    value.span,
                                    "`idempotency_header` takes a header name",
                                )
                                .label("expected a string such as \"Idempotency-Key\""),
                            ),
                        }
                    }
                }
                "idempotent" => {
                    if let Some(value) = self.setting_of(clause) {
                        match value.single().map(|expr| &expr.kind) {
                            Some(ExprKind::Bool(flag)) => idempotent = *flag,
                            _ => self.malformed_value(
                                value.span,
                                "`idempotent` takes `true` or `false`",
                                "`true` or `false`",
                            ),
                        }
                    }
                }
                "policy" => endpoint_policy = self.policy_name(clause),
                other => {
                    let mut known: Vec<&str> = ENDPOINT_CLAUSES.to_vec();
                    known.extend(METHODS.iter().copied());
                    let note = match other {
                        "timeout" | "retry" | "retry_on" | "deadline" => {
                            Some("timeouts and retries belong in a `policy`, named here with `policy: name`")
                        }
                        "base_url" | "auth" | "rate_limit" => {
                            Some("this clause belongs to the api, not to one endpoint")
                        }
                        _ => None,
                    };
                    self.unknown_clause(&clause.key, other, &known, "endpoint clause", note);
                }
            }
        }
        if let Some((first, rest)) = stream_only.split_first() {
            let names: Vec<String> = stream_only.iter().map(|clause| format!("`{}`", clause.key.name)).collect();
            let returns = decl.returns.as_ref().map(|returns| returns.ty.span);
            let mut diagnostic = Diagnostic::new(
                Code::MisplacedClause,
                first.key.span,
                format!(
                    "{} only {} on stream endpoints",
                    super::decls::join_words(&names),
                    if names.len() == 1 { "applies" } else { "apply" }
                ),
            )
            .label(format!("`{}` returns a single result", decl.name.name));
            for clause in rest {
                diagnostic = diagnostic.secondary(clause.key.span, "also only for streams");
            }
            diagnostic = match returns {
                Some(span) => diagnostic
                    .help("if the response is paginated, declare the records it streams")
                    .maybe_fix("make it a stream", span.shrink_to_start(), "stream "),
                None => diagnostic.help("declare what it streams: `-> stream Order`"),
            };
            self.report(diagnostic);
            // Check what they contain anyway, so their names count as used.
            for clause in &stream_only {
                if let ClauseValue::Setting(value) = &clause.value {
                    self.enter_response(&mut cx, response.as_ref());
                    for phrase in &value.phrases {
                        for atom in &phrase.atoms {
                            if let ExprKind::Call { args, .. } = &atom.kind {
                                self.check_args_loosely(&mut cx, args);
                            } else if !matches!(atom.kind, ExprKind::Name(_)) {
                                self.check_expr(&mut cx, atom, None);
                            }
                        }
                    }
                    self.leave_response(&mut cx);
                }
            }
        }
        let Some((method_name, method_span)) = method else {
            self.report(
                Diagnostic::new(
                    Code::MissingClause,
                    decl.name.span,
                    format!("endpoint `{api_name}.{}` has no method line", decl.name.name),
                )
                .label("what request does it send?")
                .help("add a line such as `GET \"/orders\"`"),
            );
            self.finish_endpoint(cx);
            return;
        };
        if let (Some(body), "GET" | "HEAD") = (body_clause, method_name.as_str()) {
            self.report(
                Diagnostic::new(Code::BodyOnGet, body, format!("{method_name} requests have no body"))
                    .label("many servers and proxies drop or reject it")
                    .secondary(method_span, format!("this is a {method_name}"))
                    .help("send the data in `query { ... }`, or use POST"),
            );
        }
        if info.is_stream()
            && !has_records
            && let Some(declared) = &response
            && !matches!(declared, Ty::List(_) | Ty::Error)
        {
            self.report(
                Diagnostic::new(
                    Code::MissingClause,
                    decl.name.span,
                    "a stream endpoint whose response is not a list needs `records`",
                )
                .label("where are the records in each page?")
                .help("add `records body.items` naming the list in the response"),
            );
        }
        if matches!(method_name.as_str(), "POST" | "PATCH") && !idempotency_key && !idempotent {
            let policy = self.effective_policy(endpoint_policy.as_deref().or(api_policy));
            if policy.retries() {
                let mut diagnostic = Diagnostic::new(
                    Code::UnsafeRetry,
                    method_span,
                    format!("{method_name} `{api_name}.{}` may be retried without an idempotency key", decl.name.name),
                )
                .label(format!("a retried {method_name} can run twice on the server"))
                .note(format!(
                    "policy `{}` makes up to {} attempts, so a timeout after the server acted would send the same request again",
                    policy.name, policy.attempts
                ));
                if let Some(retry_span) = policy.retry_span {
                    diagnostic = diagnostic.secondary(retry_span, "retries are configured here");
                }
                diagnostic = diagnostic
                    .help("send a key the server deduplicates on, `idempotency_key: \"{...}\"`, or declare the request safe to repeat with `idempotent: true`")
                    .maybe_fix("add an idempotency key", method_span.shrink_to_start(), "idempotency_key: \"...\"\n    ");
                self.report(diagnostic);
            }
        }
        self.finish_endpoint(cx);
    }

    fn finish_endpoint(&mut self, mut cx: Cx) {
        let unused = cx.finish();
        for local in unused {
            if local.kind == LocalKind::Param {
                self.diagnostics.push(
                    Diagnostic::new(
                        Code::UnusedVariable,
                        local.span,
                        format!("parameter `{}` is never sent", local.name),
                    )
                    .label("not used in the path, query, headers or body")
                    .help(format!("send it (for instance `query {{ {}: {} }}`) or remove it", local.name, local.name)),
                );
            }
        }
    }

    /// The policy a call uses: named, else the program's `default`, else the built-in one.
    pub(crate) fn effective_policy(&self, name: Option<&str>) -> PolicyInfo {
        name.or(Some("default"))
            .and_then(|name| self.policies.iter().find(|policy| policy.name == name))
            .cloned()
            .unwrap_or_else(PolicyInfo::builtin_default)
    }

    fn misplaced(&mut self, clause: &Clause, message: &str, help: Option<&str>) {
        let mut diagnostic = Diagnostic::new(
            Code::MisplacedClause,
            clause.key.span,
            format!("`{}` is not allowed here", clause.key.name),
        )
        .label(message.to_owned());
        if let Some(help) = help {
            diagnostic = diagnostic.help(help.to_owned());
        }
        self.report(diagnostic.fix("remove it", clause.span, ""));
    }

    pub(crate) fn malformed_value(&mut self, span: Span, message: &str, expected: &str) {
        self.report(
            Diagnostic::new(Code::InvalidSettingValue, span, message.to_owned()).label(format!("expected {expected}")),
        );
    }

    /// `GET "/orders/{id}"`: a path starting with `/`, interpolating parameters.
    fn path_template(&mut self, cx: &mut Cx, clause: &Clause, info: &EndpointInfo) {
        let ClauseValue::Setting(value) = &clause.value else {
            self.report(
                Diagnostic::new(Code::InvalidPath, clause.value.span(), "expected a path")
                    .label("write `GET \"/path\"`"),
            );
            return;
        };
        let Some(Expr { kind: ExprKind::String(literal), span }) = value.single() else {
            self.report(
                Diagnostic::new(Code::InvalidPath, value.span, "the method is followed by a path string")
                    .label("expected a string such as \"/orders/{id}\""),
            );
            return;
        };
        let first_text = match literal.parts.first() {
            Some(StringPart::Text(text, _)) => text.as_str(),
            _ => "",
        };
        if !first_text.starts_with('/') {
            let mut diagnostic = Diagnostic::new(Code::InvalidPath, *span, "a path must start with `/`")
                .label("relative to the api's base URL, starting with `/`");
            if first_text.starts_with("http://") || first_text.starts_with("https://") {
                diagnostic = diagnostic.help("put the scheme and host in the api's `base_url`, and only the path here");
            } else {
                let insert = Span { start: span.start + 1, end: span.start + 1, ..*span };
                diagnostic = diagnostic.fix("add `/`", insert, "/");
            }
            self.report(diagnostic);
        }
        for part in &literal.parts {
            match part {
                StringPart::Text(text, text_span) => {
                    if let Some(position) = text.find(['?', '#']) {
                        let character = &text[position..position + 1];
                        self.report(
                            Diagnostic::new(
                                Code::InvalidPath,
                                *text_span,
                                format!("a path cannot contain `{character}`"),
                            )
                            .label(if character == "?" {
                                "query parameters go in `query { ... }`"
                            } else {
                                "fragments are never sent to a server"
                            })
                            .help("keep only the path here"),
                        );
                    }
                    if text.contains("//") {
                        self.report(
                            Diagnostic::new(
                                Code::InvalidPath,
                                *text_span,
                                "a path cannot contain an empty segment `//`",
                            )
                            .label("empty segment"),
                        );
                    }
                }
                StringPart::Interpolation(expr) => {
                    let root = root_name(expr);
                    match root {
                        Some(name) if info.params.iter().any(|param| param.name == name.name) => {}
                        Some(name) => {
                            let mut diagnostic = Diagnostic::new(
                                Code::UnknownPathParameter,
                                name.span,
                                format!(
                                    "path template names `{}`, which is not a parameter of `{}`",
                                    name.name, info.name
                                ),
                            )
                            .label("not a parameter");
                            if let Some(best) =
                                suggest::best(&name.name, info.params.iter().map(|param| param.name.as_str()))
                            {
                                diagnostic = diagnostic.help(format!("did you mean `{best}`?")).maybe_fix(
                                    format!("use `{best}`"),
                                    name.span,
                                    best,
                                );
                            } else {
                                diagnostic = diagnostic.help(format!(
                                    "add it to the endpoint: `endpoint {}({}: String)`",
                                    info.name, name.name
                                ));
                            }
                            self.report(diagnostic);
                            continue;
                        }
                        None => {
                            self.report(
                                Diagnostic::new(
                                    Code::UnknownPathParameter,
                                    expr.span,
                                    "a path template interpolates parameters",
                                )
                                .label("expected a parameter, such as `{id}`"),
                            );
                            continue;
                        }
                    }
                    cx.secrets = Secrets::Forbidden("a URL path");
                    let ty = self.check_expr(cx, expr, None);
                    cx.secrets = Secrets::Forbidden("a request");
                    if ty.is_error() {
                        continue;
                    }
                    let shown = self.show(&ty);
                    if ty.is_optional() {
                        self.report(
                            Diagnostic::new(
                                Code::InvalidPathParameter,
                                expr.span,
                                format!(
                                    "path parameter `{}` is optional (`{shown}`)",
                                    super::expr::source_text(self, expr)
                                ),
                            )
                            .label("a path segment cannot be left out")
                            .help(
                                "make the parameter required, or send it in `query { ... }`, where none leaves it out",
                            ),
                        );
                    } else if !ty.is_scalar() || matches!(ty, Ty::Duration | Ty::Float) {
                        self.report(
                            Diagnostic::new(
                                Code::InvalidPathParameter,
                                expr.span,
                                format!(
                                    "path parameter `{}` is `{shown}`, not a scalar",
                                    super::expr::source_text(self, expr)
                                ),
                            )
                            .label("a path segment must be a string, number, boolean, date or enum")
                            .help("interpolate one of its fields instead, such as `{order.id}`"),
                        );
                    }
                }
            }
        }
    }

    fn query(&mut self, cx: &mut Cx, clause: &Clause) {
        let Some(value) = self.setting_of(clause) else {
            return;
        };
        let Some(Expr { kind: ExprKind::Object { name: None, fields }, .. }) = value.single() else {
            self.malformed_value(value.span, "`query` takes `{ name: value }`", "query parameters in braces");
            return;
        };
        cx.secrets = Secrets::Forbidden("a query string");
        let mut seen: Vec<(String, Span)> = Vec::new();
        for field in fields {
            if let Some((_, first)) = seen.iter().find(|(name, _)| name == field.key.text()) {
                let first = *first;
                self.report(
                    Diagnostic::new(
                        Code::DuplicateMember,
                        field.key.span(),
                        format!("query parameter `{}` is set twice", field.key.text()),
                    )
                    .label("set again")
                    .secondary(first, "first here")
                    .help("to send a key several times, give it a list: `tag: [\"a\", \"b\"]`"),
                );
            }
            seen.push((field.key.text().to_owned(), field.key.span()));
            let ty = self.check_expr(cx, &field.value, None);
            let ok = match &ty {
                Ty::Optional(inner) => inner.is_scalar(),
                Ty::List(inner) => inner.is_scalar(),
                Ty::None => true,
                other => other.is_scalar(),
            };
            if !ok {
                let shown = self.show(&ty);
                self.report(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        field.value.span,
                        format!("query parameter `{}` cannot be `{shown}`", field.key.text()),
                    )
                    .label("query values are scalars, optional scalars or lists of scalars")
                    .help("send one of its fields, or send structured data in a body"),
                );
            }
        }
        cx.secrets = Secrets::Forbidden("a request");
    }

    fn body(&mut self, cx: &mut Cx, clause: &Clause) {
        let Some(value) = self.setting_of(clause) else {
            return;
        };
        cx.secrets = Secrets::Forbidden("a request body");
        let usage = "`json(value)`, `json { ... }`, `form(value)`, `form { ... }` or `xml(value, root: \"Name\")`";
        let atoms: Vec<&Expr> = value.phrases.iter().flat_map(|phrase| phrase.atoms.iter()).collect();
        match atoms.as_slice() {
            [Expr { kind: ExprKind::Call { callee, args, args_span }, span }] => {
                let encoding = match &callee.kind {
                    ExprKind::Name(name) => name,
                    _ => {
                        self.malformed_body(*span, usage);
                        cx.secrets = Secrets::Forbidden("a request");
                        return;
                    }
                };
                match (encoding.name.as_str(), args.as_slice()) {
                    ("json", [arg]) if arg.name.is_none() => {
                        let ty = self.check_expr(cx, &arg.value, None);
                        if matches!(ty, Ty::Unit | Ty::Stream(_) | Ty::Fn(..)) {
                            self.malformed_body(arg.value.span, "a value that can be encoded as JSON");
                        }
                    }
                    ("form", [arg]) if arg.name.is_none() => {
                        let ty = self.check_expr(cx, &arg.value, None);
                        self.form_value_type(&ty, arg.value.span);
                    }
                    ("xml", args) => {
                        let mut value_given = false;
                        let mut root_given = false;
                        for arg in args {
                            match arg.name.as_ref().map(|name| name.name.as_str()) {
                                None if !value_given => {
                                    value_given = true;
                                    let ty = self.check_expr(cx, &arg.value, None);
                                    if !matches!(ty, Ty::Record(_) | Ty::Error | Ty::Json) {
                                        self.report(
                                            Diagnostic::new(
                                                Code::InvalidBody,
                                                arg.value.span,
                                                "an XML body is built from a record",
                                            )
                                            .label(format!("this is `{}`", self.show(&ty))),
                                        );
                                    }
                                }
                                Some("root") => {
                                    root_given = true;
                                    let valid = matches!(&arg.value.kind, ExprKind::String(literal) if literal.as_plain().is_some_and(|name| is_xml_name(&name)));
                                    if !valid {
                                        self.report(
                                            Diagnostic::new(
                                                Code::InvalidBody,
                                                arg.value.span,
                                                "`root` is the name of the XML root element",
                                            )
                                            .label("expected a string such as \"Invoice\""),
                                        );
                                    }
                                }
                                _ => self.malformed_body(arg.span, "`xml(value, root: \"Name\")`"),
                            }
                        }
                        if !value_given || !root_given {
                            self.report(
                                Diagnostic::new(
                                    Code::InvalidBody,
                                    *args_span,
                                    "`xml` takes a value and its root element name",
                                )
                                .label("write `xml(invoice, root: \"Invoice\")`"),
                            );
                        }
                    }
                    (other @ ("json" | "form"), _) => {
                        self.report(
                            Diagnostic::new(Code::InvalidBody, *args_span, format!("`{other}` takes one value"))
                                .label(format!("write `{other}(value)` or `{other} {{ key: value }}`")),
                        );
                    }
                    (other, _) => {
                        self.unknown_encoding(encoding, other);
                        self.check_args_loosely(cx, args);
                    }
                }
            }
            [object @ Expr { kind: ExprKind::Object { name: Some(encoding), fields }, span }]
            | [
                Expr { kind: ExprKind::Name(encoding), .. },
                object @ Expr { kind: ExprKind::Object { name: None, fields }, span },
            ] => {
                let ty = self.check_anonymous(cx, fields, None);
                // Lowering reads the body's type from here.
                self.expr_types.insert(super::expr::ExprKey::of(object), ty.clone());
                match encoding.name.as_str() {
                    "json" => {}
                    "form" => self.form_value_type(&ty, *span),
                    other => self.unknown_encoding(encoding, other),
                }
            }
            _ => self.malformed_body(value.span, usage),
        }
        cx.secrets = Secrets::Forbidden("a request");
    }

    fn unknown_encoding(&mut self, encoding: &ast::Ident, written: &str) {
        let mut diagnostic =
            Diagnostic::new(Code::InvalidBody, encoding.span, format!("unknown body encoding `{written}`"))
                .label("expected `json`, `form` or `xml`");
        if let Some(best) = suggest::best(written, ["json", "form", "xml"]) {
            diagnostic = diagnostic.maybe_fix(format!("use `{best}`"), encoding.span, best);
        }
        self.report(diagnostic);
    }

    fn malformed_body(&mut self, span: Span, expected: &str) {
        self.report(
            Diagnostic::new(Code::InvalidBody, span, "malformed request body").label(format!("expected {expected}")),
        );
    }

    /// Form bodies hold flat values: scalars, optionals and lists of scalars.
    fn form_value_type(&mut self, ty: &Ty, span: Span) {
        let Ty::Record(id) = ty else {
            if !ty.is_error() {
                self.report(
                    Diagnostic::new(Code::InvalidBody, span, "a form body is built from a record")
                        .label(format!("this is `{}`", self.show(ty))),
                );
            }
            return;
        };
        let Some(record) = self.types.record(*id).cloned() else {
            return;
        };
        for field in &record.fields {
            let flat = match &field.ty {
                Ty::Optional(inner) | Ty::List(inner) => inner.is_scalar(),
                Ty::None => true,
                other => other.is_scalar(),
            };
            if !flat {
                let shown = self.show(&field.ty);
                self.report(
                    Diagnostic::new(Code::InvalidBody, field.span, format!("form field `{}` is `{shown}`", field.name))
                        .label("form fields are flat: scalars, optionals and lists of scalars")
                        .help("flatten nested values into keys such as \"metadata[order_id]\""),
                );
            }
        }
    }

    /// A `records`/`select` expression over the response.
    fn response_expr(&mut self, cx: &mut Cx, clause: &Clause, response: Option<&Ty>, expected: &Ty, what: &str) {
        let Some(value) = self.setting_of(clause) else {
            return;
        };
        let Some(expr) = value.single() else {
            self.malformed_value(
                value.span,
                &format!("{what} takes one expression"),
                "an expression such as `body.items`",
            );
            return;
        };
        self.enter_response(cx, response);
        let ty = self.check_expr(cx, expr, Some(expected));
        self.expect_fits(cx, &ty, expected, expr.span, what);
        self.leave_response(cx);
    }

    fn enter_response(&mut self, cx: &mut Cx, response: Option<&Ty>) {
        cx.push();
        cx.declare("body", response.cloned().unwrap_or(Ty::Json), Span::default(), LocalKind::Implicit);
        cx.declare("headers", Ty::Map(Box::new(Ty::String)), Span::default(), LocalKind::Implicit);
        cx.declare("status", Ty::Int, Span::default(), LocalKind::Implicit);
        cx.json_decodes = true;
    }

    fn leave_response(&mut self, cx: &mut Cx) {
        cx.json_decodes = false;
        cx.pop();
    }

    fn paginate(&mut self, cx: &mut Cx, clause: &Clause, response: Option<&Ty>) {
        let Some(value) = self.setting_of(clause) else {
            return;
        };
        let styles = ["cursor", "page", "offset", "link_header", "next_url"];
        let Some(expr) = value.single() else {
            self.report(
                Diagnostic::new(Code::InvalidPagination, value.span, "`paginate` takes one pagination style")
                    .label("expected `cursor(...)`, `page(...)`, `offset(...)`, `link_header` or `next_url(...)`"),
            );
            return;
        };
        let (style, args, args_span) = match &expr.kind {
            ExprKind::Name(name) => (name, &[][..], name.span),
            ExprKind::Call { callee, args, args_span } => match &callee.kind {
                ExprKind::Name(name) => (name, args.as_slice(), *args_span),
                _ => {
                    self.report(
                        Diagnostic::new(Code::InvalidPagination, expr.span, "unknown pagination style")
                            .label("not a style"),
                    );
                    return;
                }
            },
            _ => {
                self.report(
                    Diagnostic::new(Code::InvalidPagination, expr.span, "unknown pagination style")
                        .label("expected `cursor(...)`, `page(...)`, `offset(...)`, `link_header` or `next_url(...)`"),
                );
                return;
            }
        };
        // Parameters: (name, required, kind) where kind is a type or a plain string.
        enum Param {
            Name,
            Int,
            Expr(Ty),
        }
        let params: &[(&str, bool, Param)] = match style.name.as_str() {
            "cursor" => &[
                ("next", true, Param::Expr(Ty::String.optional())),
                ("param", true, Param::Name),
                ("has_more", false, Param::Expr(Ty::Bool)),
            ],
            "page" => &[
                ("param", false, Param::Name),
                ("start", false, Param::Int),
                ("size_param", false, Param::Name),
                ("size", false, Param::Int),
                ("stop", false, Param::Expr(Ty::Bool)),
            ],
            "offset" => &[
                ("param", false, Param::Name),
                ("limit_param", false, Param::Name),
                ("limit", false, Param::Int),
                ("stop", false, Param::Expr(Ty::Bool)),
            ],
            "link_header" => &[("rel", false, Param::Name)],
            "next_url" => &[("url", true, Param::Expr(Ty::String.optional()))],
            other => {
                let mut diagnostic =
                    Diagnostic::new(Code::InvalidPagination, style.span, format!("unknown pagination style `{other}`"))
                        .label("not a pagination style");
                let alias = match other {
                    "link" | "links" | "link_headers" => Some("link_header"),
                    "next" | "url" | "next_link" => Some("next_url"),
                    "starting_after" | "after" => Some("cursor"),
                    "pages" | "page_number" => Some("page"),
                    _ => None,
                };
                if let Some(best) = alias.or_else(|| suggest::best(other, styles)) {
                    diagnostic = diagnostic.help(format!("did you mean `{best}`?")).maybe_fix(
                        format!("use `{best}`"),
                        style.span,
                        best,
                    );
                } else {
                    diagnostic =
                        diagnostic.note("the styles are `cursor`, `page`, `offset`, `link_header` and `next_url`");
                }
                self.report(diagnostic);
                return;
            }
        };
        self.enter_response(cx, response);
        let mut given: Vec<&str> = Vec::new();
        for (position, arg) in args.iter().enumerate() {
            let param = match &arg.name {
                Some(name) => params.iter().find(|(param, _, _)| *param == name.name),
                None if position == 0 => params.first(),
                None => None,
            };
            let Some((param_name, _, kind)) = param else {
                match &arg.name {
                    Some(name) => {
                        let known: Vec<&str> = params.iter().map(|(name, _, _)| *name).collect();
                        let mut diagnostic = Diagnostic::new(
                            Code::InvalidPagination,
                            name.span,
                            format!("`{}` has no parameter `{}`", style.name, name.name),
                        )
                        .label("unknown parameter");
                        if let Some(best) = suggest::best(&name.name, known.iter().copied()) {
                            diagnostic = diagnostic.maybe_fix(format!("use `{best}`"), name.span, best);
                        } else {
                            let shown: Vec<String> = known.iter().map(|name| format!("`{name}`")).collect();
                            diagnostic =
                                diagnostic.note(format!("its parameters are {}", super::decls::join_words(&shown)));
                        }
                        self.report(diagnostic);
                    }
                    None => self.report(
                        Diagnostic::new(
                            Code::InvalidPagination,
                            arg.span,
                            format!("name this argument of `{}`", style.name),
                        )
                        .label("expected `name: value`"),
                    ),
                }
                continue;
            };
            if given.contains(param_name) {
                self.report(
                    Diagnostic::new(Code::DuplicateMember, arg.span, format!("`{param_name}` is given twice"))
                        .label("already given"),
                );
                continue;
            }
            given.push(param_name);
            match kind {
                Param::Name => {
                    let valid = matches!(&arg.value.kind, ExprKind::String(literal) if literal.as_plain().is_some_and(|text| !text.is_empty()));
                    if !valid {
                        self.report(
                            Diagnostic::new(
                                Code::InvalidPagination,
                                arg.value.span,
                                format!("`{param_name}` is a parameter name"),
                            )
                            .label("expected a string such as \"cursor\""),
                        );
                    }
                }
                Param::Int => match arg.value.kind {
                    ExprKind::Int(value) if value >= 0 && !(*param_name != "start" && value == 0) => {}
                    _ => self.report(
                        Diagnostic::new(
                            Code::InvalidPagination,
                            arg.value.span,
                            format!("`{param_name}` takes a whole number"),
                        )
                        .label(if *param_name == "start" {
                            "expected 0 or more"
                        } else {
                            "expected 1 or more"
                        }),
                    ),
                },
                Param::Expr(expected) => {
                    let ty = self.check_expr(cx, &arg.value, Some(expected));
                    let accepted = match (expected, &ty) {
                        (Ty::Optional(_), Ty::Int | Ty::String) => true,
                        (Ty::Optional(_), Ty::Optional(inner)) => {
                            matches!(**inner, Ty::Int | Ty::String | Ty::Json | Ty::Error)
                        }
                        _ => self.fits(cx, &ty, expected),
                    };
                    if !accepted {
                        let wanted = if matches!(expected, Ty::Bool) { Ty::Bool } else { Ty::String.optional() };
                        self.report_mismatch(
                            &ty,
                            &wanted,
                            arg.value.span,
                            &format!("`{param_name}` of `{}`", style.name),
                        );
                    }
                }
            }
        }
        self.leave_response(cx);
        if style.name == "page" && given.contains(&"size_param") && !given.contains(&"size") {
            self.report(
                Diagnostic::new(Code::InvalidPagination, args_span, "`size_param` is given without a `size`")
                    .label("what page size should be sent?")
                    .help("add `size: 100`, or remove `size_param`"),
            );
        }
        let missing: Vec<String> = params
            .iter()
            .filter(|(name, required, _)| *required && !given.contains(name))
            .map(|(name, _, _)| format!("`{name}`"))
            .collect();
        if !missing.is_empty() {
            self.report(
                Diagnostic::new(
                    Code::InvalidPagination,
                    args_span,
                    format!("`{}` is missing {}", style.name, super::decls::join_words(&missing)),
                )
                .label(format!("add {}", super::decls::join_words(&missing)))
                .help(match style.name.as_str() {
                    "cursor" => "write `cursor(next: body.next_cursor, param: \"cursor\")`",
                    _ => "write `next_url(body.next)`",
                }),
            );
        }
    }
}

/// The parameter an interpolation starts from: `id` in `{id}`, `order` in `{order.id}`.
fn root_name(expr: &Expr) -> Option<&ast::Ident> {
    match &expr.kind {
        ExprKind::Name(name) => Some(name),
        ExprKind::Field { base, .. } => root_name(base),
        ExprKind::Paren(inner) => root_name(inner),
        ExprKind::Call { callee, .. } => match &callee.kind {
            ExprKind::Field { base, .. } => root_name(base),
            _ => None,
        },
        _ => None,
    }
}

/// HTTP token characters (RFC 9110).
fn is_token_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

fn is_xml_name(name: &str) -> bool {
    let mut characters = name.chars();
    characters.next().is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && characters.all(|character| character.is_ascii_alphanumeric() || matches!(character, '_' | '-' | '.'))
}
