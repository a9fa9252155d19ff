//! Secrets, auth schemes and webhook signature schemes.
//!
//! In: secret declarations, `auth` declarations and `auth:` clauses, the
//! `signature:` of webhook triggers. Out: diagnostics: secrets must come from
//! the environment (E0702), schemes must exist (E0213) and be configured
//! sensibly (E0511/E0806): a credential written as a literal in the source is
//! an error, because the source ends up in version control.

use super::scope::{BodyKind, Cx, Secrets};
use super::types::Ty;
use super::{Checker, SymbolKind, suggest};
use crate::diagnostic::{Code, Diagnostic};
use crate::syntax::ast::{self, Arg, Expr, ExprKind};

/// What an argument of a scheme accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgKind {
    /// Plain text (a header name, a URL).
    Text,
    /// A URL (validated when written literally).
    Url,
    /// Text or a secret (a client id, a user name).
    TextOrSecret,
    /// A secret, or `env(...)`: never a literal.
    Secret,
    /// A list of secrets (keys under rotation).
    Secrets,
    /// A list of text.
    TextList,
    Duration,
    /// One of these bare words.
    Word(&'static [&'static str]),
    /// A string template in which these names are in scope.
    Template(&'static [&'static str]),
}

#[derive(Clone, Copy, Debug)]
pub struct SchemeParam {
    pub name: &'static str,
    pub kind: ArgKind,
    pub required: bool,
}

#[derive(Clone, Copy, Debug)]
pub struct Scheme {
    pub name: &'static str,
    pub params: &'static [SchemeParam],
}

const fn required(name: &'static str, kind: ArgKind) -> SchemeParam {
    SchemeParam { name, kind, required: true }
}

const fn optional(name: &'static str, kind: ArgKind) -> SchemeParam {
    SchemeParam { name, kind, required: false }
}

/// Names in scope in the canonical string of a webhook signature.
const SIGNED_NAMES: &[&str] = &["body", "timestamp", "id", "path"];
const HMAC_NAMES: &[&str] = &["method", "path", "query", "host", "timestamp", "nonce", "body", "body_sha256"];

pub const AUTH_SCHEMES: &[Scheme] = &[
    Scheme {
        name: "api_key",
        params: &[
            optional("header", ArgKind::Text),
            optional("query", ArgKind::Text),
            required("value", ArgKind::TextOrSecret),
        ],
    },
    Scheme {
        name: "basic",
        params: &[required("username", ArgKind::TextOrSecret), required("password", ArgKind::Secret)],
    },
    Scheme { name: "bearer", params: &[required("token", ArgKind::Secret)] },
    Scheme {
        name: "oauth2_client_credentials",
        params: &[
            required("token_url", ArgKind::Url),
            required("client_id", ArgKind::TextOrSecret),
            required("client_secret", ArgKind::Secret),
            optional("scopes", ArgKind::TextList),
            optional("audience", ArgKind::Text),
            optional("refresh_before", ArgKind::Duration),
            optional("auth_style", ArgKind::Word(&["header", "body"])),
        ],
    },
    Scheme {
        name: "oauth2_refresh_token",
        params: &[
            required("token_url", ArgKind::Url),
            required("client_id", ArgKind::TextOrSecret),
            optional("client_secret", ArgKind::Secret),
            required("refresh_token", ArgKind::Secret),
            optional("scopes", ArgKind::TextList),
            optional("refresh_before", ArgKind::Duration),
        ],
    },
    Scheme {
        name: "hmac",
        params: &[
            required("secret", ArgKind::Secret),
            optional("header", ArgKind::Text),
            optional("algorithm", ArgKind::Word(&["sha256", "sha512"])),
            optional("encoding", ArgKind::Word(&["hex", "base64"])),
            optional("canonical", ArgKind::Template(HMAC_NAMES)),
            optional("timestamp_header", ArgKind::Text),
            optional("key_id", ArgKind::TextOrSecret),
            optional("key_id_header", ArgKind::Text),
        ],
    },
];

pub const SIGNATURE_SCHEMES: &[Scheme] = &[
    Scheme {
        name: "hmac",
        params: &[
            required("secret", ArgKind::Secret),
            required("header", ArgKind::Text),
            optional("algorithm", ArgKind::Word(&["sha256", "sha512", "sha1"])),
            optional("encoding", ArgKind::Word(&["hex", "base64"])),
            optional("prefix", ArgKind::Text),
            optional("canonical", ArgKind::Template(SIGNED_NAMES)),
            optional("timestamp_header", ArgKind::Text),
            optional("tolerance", ArgKind::Duration),
        ],
    },
    Scheme { name: "github", params: &[required("secret", ArgKind::Secret)] },
    Scheme { name: "stripe", params: &[required("secret", ArgKind::Secret), optional("tolerance", ArgKind::Duration)] },
    Scheme {
        name: "standard_webhooks",
        params: &[required("secrets", ArgKind::Secrets), optional("tolerance", ArgKind::Duration)],
    },
];

impl Checker<'_> {
    pub(crate) fn check_secret(&mut self, secret: &ast::SecretDecl) {
        let from_env = matches!(
            &secret.value.kind,
            ExprKind::Call { callee, .. } if matches!(&callee.kind, ExprKind::Name(name) if name.name == "env")
        );
        if !from_env {
            let literal = matches!(secret.value.kind, ExprKind::String(_));
            let mut diagnostic = Diagnostic::new(
                Code::SecretNotFromEnv,
                secret.value.span,
                format!("secret `{}` is not read from the environment", secret.name.name),
            )
            .label("a secret's value must come from `env(\"VAR\")`")
            .help(format!(
                "write `secret {} = env(\"{}\")` and set the variable where integ runs",
                secret.name.name,
                secret.name.name.to_ascii_uppercase()
            ));
            if literal {
                diagnostic = diagnostic
                    .note("a credential written in the source ends up in version control, logs of CI and every copy of the file")
                    .maybe_fix("read it from the environment", secret.value.span, format!("env(\"{}\")", secret.name.name.to_ascii_uppercase()));
            }
            self.report(diagnostic);
            return;
        }
        let mut cx = Cx::new(BodyKind::Config, Secrets::Forbidden("another secret's declaration"));
        cx.env_allowed = true;
        self.check_expr(&mut cx, &secret.value, Some(&Ty::String));
    }

    pub(crate) fn check_auth_decl(&mut self, auth: &ast::AuthDecl) {
        self.check_auth_value(&auth.value);
    }

    /// An auth scheme call, an `auth` declaration's name, or `none`.
    pub(crate) fn check_auth_value(&mut self, value: &Expr) {
        if matches!(value.kind, ExprKind::None) {
            return;
        }
        if let ExprKind::Name(name) = &value.kind {
            if name.name == "none" {
                return;
            }
            match self.use_symbol(&name.name).map(|index| self.symbols[index].kind.clone()) {
                Some(SymbolKind::Auth) => return,
                Some(other) => {
                    self.report(
                        Diagnostic::new(
                            Code::InvalidAuth,
                            name.span,
                            format!("`{}` is a {}, not an auth scheme", name.name, other.describe()),
                        )
                        .label("expected an auth scheme")
                        .help("write a scheme such as `bearer(token)`, or the name of an `auth` declaration"),
                    );
                    return;
                }
                None if AUTH_SCHEMES.iter().any(|scheme| scheme.name == name.name) => {
                    self.report(
                        Diagnostic::new(
                            Code::InvalidAuth,
                            name.span,
                            format!("auth scheme `{}` needs its arguments", name.name),
                        )
                        .label("call it with its arguments")
                        .maybe_fix("add the arguments", name.span.shrink_to_end(), "(...)"),
                    );
                    return;
                }
                None => {}
            }
        }
        self.check_scheme(value, AUTH_SCHEMES, "auth scheme", Code::UnknownAuthScheme, Code::InvalidAuth, true);
    }

    /// A webhook signature scheme.
    pub(crate) fn check_signature_scheme(&mut self, value: &Expr) {
        if matches!(&value.kind, ExprKind::None) || matches!(&value.kind, ExprKind::Name(name) if name.name == "none") {
            return;
        }
        self.check_scheme(
            value,
            SIGNATURE_SCHEMES,
            "signature scheme",
            Code::InvalidSignatureScheme,
            Code::InvalidSignatureScheme,
            false,
        );
    }

    /// Checks `scheme(args)` against a table of schemes; returns the scheme's name.
    fn check_scheme(
        &mut self,
        value: &Expr,
        table: &[Scheme],
        what: &str,
        unknown: Code,
        invalid: Code,
        auth: bool,
    ) -> Option<&'static str> {
        let (name, args, args_span) = match &value.kind {
            ExprKind::Call { callee, args, args_span } => match &callee.kind {
                ExprKind::Name(name) => (name, args, *args_span),
                _ => {
                    self.report(
                        Diagnostic::new(unknown, callee.span, format!("expected {} {what}", article(what)))
                            .label(format!("not {} {what}", article(what))),
                    );
                    return None;
                }
            },
            ExprKind::Name(name) => {
                let mut diagnostic = Diagnostic::new(unknown, name.span, format!("unknown {what} `{}`", name.name))
                    .label(format!("not {} {what}", article(what)));
                let mut candidates: Vec<String> = table.iter().map(|scheme| scheme.name.to_owned()).collect();
                if auth {
                    candidates.extend(self.names_where(|kind| matches!(kind, SymbolKind::Auth)));
                }
                candidates.push("none".to_owned());
                if let Some(best) = suggest::best(&name.name, candidates.iter().map(String::as_str)) {
                    diagnostic = diagnostic.help(format!("did you mean `{best}`?")).maybe_fix(
                        format!("use `{best}`"),
                        name.span,
                        best,
                    );
                }
                self.report(diagnostic);
                return None;
            }
            _ => {
                let names: Vec<String> = table.iter().map(|scheme| format!("`{}`", scheme.name)).collect();
                self.report(
                    Diagnostic::new(unknown, value.span, format!("expected {} {what}", article(what)))
                        .label(format!("not {} {what}", article(what)))
                        .help(format!("the {what}s are {}", super::decls::join_words(&names))),
                );
                return None;
            }
        };
        let Some(scheme) = table.iter().find(|scheme| scheme.name == name.name) else {
            let mut cx = Cx::new(BodyKind::Config, Secrets::Allowed);
            cx.env_allowed = true;
            for arg in args {
                if !matches!(arg.value.kind, ExprKind::Name(ref word) if self.symbol(&word.name).is_none()) {
                    self.check_expr(&mut cx, &arg.value, None);
                }
            }
            let mut diagnostic = Diagnostic::new(unknown, name.span, format!("unknown {what} `{}`", name.name))
                .label(format!("not {} {what}", article(what)));
            if !auth && AUTH_SCHEMES.iter().any(|scheme| scheme.name == name.name) {
                diagnostic = diagnostic.note(format!(
                    "`{}` authenticates requests integ sends; a webhook proves who sent it by signing the body",
                    name.name
                ));
            }
            if let Some(best) = suggest::best(&name.name, table.iter().map(|scheme| scheme.name)) {
                diagnostic = diagnostic.help(format!("did you mean `{best}`?")).maybe_fix(
                    format!("use `{best}`"),
                    name.span,
                    best,
                );
            } else {
                let names: Vec<String> = table.iter().map(|scheme| format!("`{}`", scheme.name)).collect();
                diagnostic = diagnostic.help(format!("the {what}s are {}", super::decls::join_words(&names)));
            }
            self.report(diagnostic);
            return None;
        };
        let mut given: Vec<(&SchemeParam, &Arg)> = Vec::new();
        let mut positional = 0;
        for arg in args {
            let param = match &arg.name {
                Some(arg_name) => match scheme.params.iter().find(|param| param.name == arg_name.name) {
                    Some(param) => param,
                    None => {
                        let mut diagnostic = Diagnostic::new(
                            Code::UnknownArgument,
                            arg_name.span,
                            format!("`{}` has no parameter `{}`", scheme.name, arg_name.name),
                        )
                        .label("unknown parameter");
                        if let Some(best) = suggest::best(&arg_name.name, scheme.params.iter().map(|param| param.name))
                        {
                            diagnostic = diagnostic.help(format!("did you mean `{best}`?")).maybe_fix(
                                format!("use `{best}`"),
                                arg_name.span,
                                best,
                            );
                        } else {
                            let names: Vec<String> =
                                scheme.params.iter().map(|param| format!("`{}`", param.name)).collect();
                            diagnostic =
                                diagnostic.note(format!("its parameters are {}", super::decls::join_words(&names)));
                        }
                        self.report(diagnostic);
                        continue;
                    }
                },
                None => match scheme.params.get(positional) {
                    Some(param) => {
                        positional += 1;
                        param
                    }
                    None => {
                        self.report(
                            Diagnostic::new(
                                Code::WrongArgumentCount,
                                arg.span,
                                format!("`{}` takes no more positional arguments", scheme.name),
                            )
                            .label("unexpected argument"),
                        );
                        continue;
                    }
                },
            };
            if given.iter().any(|(existing, _)| existing.name == param.name) {
                self.report(
                    Diagnostic::new(Code::DuplicateMember, arg.span, format!("`{}` is given twice", param.name))
                        .label("already given")
                        .fix("remove it", arg.span, ""),
                );
                continue;
            }
            given.push((param, arg));
            self.check_scheme_arg(scheme, param, &arg.value, invalid);
        }
        let missing: Vec<String> = scheme
            .params
            .iter()
            .filter(|param| param.required && !given.iter().any(|(existing, _)| existing.name == param.name))
            .map(|param| format!("`{}`", param.name))
            .collect();
        if !missing.is_empty() {
            self.report(
                Diagnostic::new(
                    Code::WrongArgumentCount,
                    args_span,
                    format!("`{}` is missing {}", scheme.name, super::decls::join_words(&missing)),
                )
                .label(format!("missing {}", super::decls::join_words(&missing))),
            );
        }
        if scheme.name == "api_key" {
            let has = |name: &str| given.iter().any(|(param, _)| param.name == name);
            if has("header") == has("query") {
                let message = if has("header") {
                    "`api_key` sends the key in a header or in the query, not both"
                } else {
                    "`api_key` needs to know where the key goes"
                };
                self.report(
                    Diagnostic::new(invalid, value.span, message)
                        .label("give exactly one of `header:` and `query:`")
                        .help("write `api_key(header: \"X-Api-Key\", value: key)` or `api_key(query: \"api_key\", value: key)`"),
                );
            }
        }
        Some(scheme.name)
    }

    fn check_scheme_arg(&mut self, scheme: &Scheme, param: &SchemeParam, value: &Expr, invalid: Code) {
        let mut cx = Cx::new(BodyKind::Config, Secrets::Allowed);
        cx.env_allowed = true;
        match param.kind {
            ArgKind::Word(words) => {
                let written = match &value.kind {
                    ExprKind::Name(name) => Some(name),
                    _ => None,
                };
                match written {
                    Some(name) if words.contains(&name.name.as_str()) => {}
                    _ => {
                        let shown: Vec<String> = words.iter().map(|word| format!("`{word}`")).collect();
                        let mut diagnostic = Diagnostic::new(
                            invalid,
                            value.span,
                            format!("invalid `{}` for `{}`", param.name, scheme.name),
                        )
                        .label(format!("expected {}", super::decls::join_words(&shown).replace(" and ", " or ")));
                        if let Some(name) = written
                            && let Some(best) = suggest::best(&name.name, words.iter().copied())
                        {
                            diagnostic = diagnostic.maybe_fix(format!("use `{best}`"), name.span, best);
                        }
                        self.report(diagnostic);
                    }
                }
            }
            ArgKind::Template(names) => {
                let mut template_cx = Cx::new(BodyKind::Config, Secrets::Forbidden("a signing template"));
                for name in names {
                    template_cx.declare(name, Ty::String, value.span, super::scope::LocalKind::Implicit);
                }
                match &value.kind {
                    ExprKind::String(_) => {
                        self.check_expr(&mut template_cx, value, Some(&Ty::String));
                    }
                    _ => self.report(
                        Diagnostic::new(invalid, value.span, format!("`{}` is a string template", param.name))
                            .label("expected a string such as \"{method}\\n{path}\\n{timestamp}\\n{body_sha256}\""),
                    ),
                }
            }
            ArgKind::Secret | ArgKind::TextOrSecret | ArgKind::Text | ArgKind::Url => {
                if param.kind == ArgKind::Secret
                    && let ExprKind::String(literal) = &value.kind
                {
                    // An empty password (an api key sent as the user name) reveals nothing.
                    let empty = literal.parts.is_empty();
                    if !empty && literal.parts.iter().all(|part| matches!(part, ast::StringPart::Text(..))) {
                        self.report(
                            Diagnostic::new(
                                invalid,
                                value.span,
                                format!("`{}` of `{}` is written in the source", param.name, scheme.name),
                            )
                            .label("a credential as a literal")
                            .note("a credential written in the source ends up in version control and CI logs")
                            .help(format!("declare `secret {} = env(\"...\")` and pass its name", param.name)),
                        );
                        return;
                    }
                }
                let ty = self.check_expr(&mut cx, value, Some(&Ty::String));
                match (param.kind, &ty) {
                    (_, Ty::Error) => {}
                    (ArgKind::Secret, Ty::Secret) => {}
                    (ArgKind::Secret, Ty::String) if is_env_call(value) => {}
                    (ArgKind::Secret, Ty::String) if matches!(&value.kind, ExprKind::String(literal) if literal.parts.is_empty()) =>
                        {}
                    (ArgKind::Secret, _) => self.report(
                        Diagnostic::new(
                            invalid,
                            value.span,
                            format!("`{}` of `{}` must be a secret", param.name, scheme.name),
                        )
                        .label(format!("this is `{}`, not a secret", self.show(&ty)))
                        .help("declare it with `secret name = env(\"VAR\")` and pass the secret's name"),
                    ),
                    (ArgKind::TextOrSecret, Ty::Secret | Ty::String) => {}
                    (ArgKind::Text | ArgKind::Url, Ty::String) => {
                        if param.kind == ArgKind::Url {
                            self.check_url_expr(value, "a token URL");
                        }
                    }
                    (ArgKind::Text | ArgKind::Url, Ty::Secret) => self.report(
                        Diagnostic::new(
                            invalid,
                            value.span,
                            format!("`{}` of `{}` is not secret", param.name, scheme.name),
                        )
                        .label("a secret here would be sent or logged in the clear")
                        .help("pass plain text"),
                    ),
                    _ => self.report_mismatch(&ty, &Ty::String, value.span, &format!("`{}`", param.name)),
                }
            }
            ArgKind::Secrets => {
                let ExprKind::List(items) = &value.kind else {
                    self.report(
                        Diagnostic::new(invalid, value.span, format!("`{}` is a list of secrets", param.name))
                            .label("expected `[secret_a, secret_b]`"),
                    );
                    return;
                };
                if items.is_empty() {
                    self.report(
                        Diagnostic::new(invalid, value.span, format!("`{}` needs at least one secret", param.name))
                            .label("empty list"),
                    );
                }
                for item in items {
                    let ty = self.check_expr(&mut cx, item, Some(&Ty::String));
                    if !matches!(ty, Ty::Secret | Ty::Error) && !is_env_call(item) {
                        self.report(
                            Diagnostic::new(invalid, item.span, "expected a secret")
                                .label(format!("this is `{}`, not a secret", self.show(&ty))),
                        );
                    }
                }
            }
            ArgKind::TextList => {
                let ty = self.check_expr(&mut cx, value, Some(&Ty::String.list()));
                self.expect_assignable(&ty, &Ty::String.list(), value.span, &format!("`{}`", param.name));
            }
            ArgKind::Duration => {
                let ty = self.check_expr(&mut cx, value, Some(&Ty::Duration));
                self.expect_assignable(&ty, &Ty::Duration, value.span, &format!("`{}`", param.name));
            }
        }
    }

    /// Validates a literal URL, or the default of `env("VAR", "default")`.
    pub(crate) fn check_url_expr(&mut self, value: &Expr, what: &str) {
        let literal = match &value.kind {
            ExprKind::String(literal) => literal.as_plain().map(|text| (text, value.span)),
            ExprKind::Call { args, .. } if is_env_call(value) => args.get(1).and_then(|arg| match &arg.value.kind {
                ExprKind::String(literal) => literal.as_plain().map(|text| (text, arg.value.span)),
                _ => None,
            }),
            _ => None,
        };
        let Some((text, span)) = literal else { return };
        if let Err(problem) = validate_url(&text) {
            self.report(
                Diagnostic::new(Code::InvalidUrl, span, format!("invalid URL for {what}: {problem}"))
                    .label("not a usable URL")
                    .help("write an absolute http or https URL, such as \"https://api.example.com/v1\""),
            );
        }
    }
}

pub(crate) fn is_env_call(value: &Expr) -> bool {
    matches!(&value.kind, ExprKind::Call { callee, .. } if matches!(&callee.kind, ExprKind::Name(name) if name.name == "env"))
}

/// Why `text` is not an absolute http(s) URL without query or fragment.
pub(crate) fn validate_url(text: &str) -> Result<(), String> {
    let parsed = url::Url::parse(text).map_err(|error| error.to_string())?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("the scheme is `{}`; use http or https", parsed.scheme()));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err("there is no host".to_owned());
    }
    if parsed.query().is_some() {
        return Err("it has a query string; put query parameters in `query { ... }`".to_owned());
    }
    if parsed.fragment().is_some() {
        return Err("it has a fragment (`#...`)".to_owned());
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("it has credentials in it; use `auth:`".to_owned());
    }
    Ok(())
}

/// "a" or "an" for the word `what` starts with.
fn article(what: &str) -> &'static str {
    if what.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" }
}

#[cfg(test)]
mod url_tests {
    use super::validate_url;

    #[test]
    fn urls() {
        assert!(validate_url("https://shop.example.com/api/v2").is_ok());
        assert!(validate_url("http://127.0.0.1:8080").is_ok());
        assert!(validate_url("ftp://x.example.com").is_err());
        assert!(validate_url("https://x.example.com/?a=1").is_err());
        assert!(validate_url("shop.example.com").is_err());
        assert!(validate_url("https://user:pw@x.example.com").is_err());
    }
}
