//! The webhook flows as Rust (§ 12.3, § 17.2): `webhook_flows(apis, host,
//! env)`, one `integ_runtime::generated::WebhookFlow` per webhook flow, and
//! `webhooks(apis, host, env)`, which serves them as the runtime's
//! `Webhooks` (an axum router and the workers that run queued events).
//!
//! Each flow's description is made of its route (path, body limit and
//! signature scheme, whose secrets are read from `env` when it is built, as
//! the interpreter reads them at start-up), its check of a request (the
//! body decodes as the payload type, and its `dedupe:` key, or else the
//! delivery id its scheme sends) and how one queued event runs: decoded
//! again, then given to the flow's generated function with the queued
//! event, whose last checkpoint removes it from the queue.

use proc_macro2::TokenStream;
use quote::quote;

use super::client::config;
use super::expr::{Body, Form};
use super::{GenError, Generator, rt};
use crate::check::types::Ty;
use crate::ir::flow::{Flow, Signature, Webhook};
use crate::ir::{Expr, Literal};

/// `webhook_flows` and `webhooks`, when the program has webhook flows
/// among those generated.
pub(super) fn webhooks(generator: &Generator<'_>) -> Result<TokenStream, GenError> {
    let rt = rt();
    let mut flows = Vec::new();
    let mut served = Vec::new();
    for (index, flow) in generator.program.flows.iter().enumerate() {
        let Some(webhook) = &flow.webhook else { continue };
        if !generator.includes_flow(&flow.name) {
            continue;
        }
        served.push(format!("`{}` on `{}`", flow.name, webhook.path));
        flows.push(WebhookGen { generator, flow, webhook }.flow(index)?);
    }
    if flows.is_empty() {
        return Ok(TokenStream::new());
    }
    let doc = format!(" The webhook flows of the program ({}), as the runtime serves them.", served.join(", "));
    Ok(quote! {
        #[doc = #doc]
        ///
        /// Signature secrets are read from `env` now, as `Apis::configure`
        /// reads the apis' secrets. Each flow's events run with `apis`,
        /// their state and queue in `host`'s store.
        pub fn webhook_flows(
            apis: &Apis,
            host: &#rt::generated::FlowHost,
            env: &#rt::generated::Env,
        ) -> Result<Vec<#rt::generated::WebhookFlow>, #rt::http::ConfigError> {
            // Schemes without secrets do not read `env`.
            let _ = env;
            let mut flows = Vec::new();
            #(flows.push(#flows);)*
            Ok(flows)
        }

        /// The webhook flows of the program, served: `router()` answers
        /// their requests (an event is stored in `host`'s store before it
        /// is answered `202`), `work()` runs the queued events until
        /// `host.stop_flag()` is set. Mount the router in an axum app:
        /// `Router::new().merge(webhooks.router())`.
        pub fn webhooks(
            apis: &Apis,
            host: &#rt::generated::FlowHost,
            env: &#rt::generated::Env,
        ) -> Result<#rt::generated::Webhooks, #rt::http::ConfigError> {
            #rt::generated::Webhooks::new(host, webhook_flows(apis, host, env)?, #rt::webhook::Options::default())
                .map_err(|error| #rt::http::ConfigError::new(error.to_string()))
        }
    })
}

struct WebhookGen<'g, 'a> {
    generator: &'g Generator<'a>,
    flow: &'g Flow,
    webhook: &'g Webhook,
}

impl WebhookGen<'_, '_> {
    fn unsupported(&self, message: impl Into<String>) -> GenError {
        GenError::Unsupported { item: self.flow.name.clone(), message: message.into() }
    }

    /// The `WebhookFlow` value of the flow at `index`.
    fn flow(&self, index: usize) -> Result<TokenStream, GenError> {
        let rt = rt();
        let flow = self.flow;
        let Some((payload, ty)) = &flow.payload else {
            return Err(self.unsupported("a webhook flow without a payload"));
        };
        let info = super::flow::info_ident(index);
        let function = super::ident(&flow.name);
        let path = &self.webhook.path;
        let max_body = self.webhook.max_body;
        let scheme = self.scheme(&self.webhook.signature)?;
        let marker = self.generator.marker_tokens(ty).map_err(|message| self.unsupported(message))?;
        let display = self.generator.program.types.display(ty).to_string();
        let admit = self.admit(payload, ty, &marker, &display)?;
        Ok(quote! {
            #rt::generated::WebhookFlow {
                flow: &#info,
                route: #rt::webhook::Route {
                    flow: #info.name.to_owned(),
                    path: String::from(#path),
                    scheme: #scheme,
                    max_body: #max_body,
                },
                admit: #admit,
                run: {
                    let (apis, host) = (apis.clone(), host.clone());
                    Box::new(move |queued: #rt::store::QueuedEvent| {
                        let (apis, host) = (apis.clone(), host.clone());
                        Box::pin(async move {
                            let payload = {
                                let json = #rt::webhook::body::event_json(&queued.headers, &queued.body);
                                #rt::wire::json::<#marker>(&json, #payload).map_err(|error| {
                                    format!("the event no longer decodes as the payload: {error}")
                                })
                            };
                            webhook_runs::#function(&apis, &host, payload, queued.into()).await
                        })
                    })
                },
            }
        })
    }

    /// The check of a request: its body decodes as the payload type; its
    /// delivery key is the flow's `dedupe:`, or else the delivery id its
    /// scheme sends.
    fn admit(&self, payload: &str, ty: &Ty, marker: &TokenStream, display: &str) -> Result<TokenStream, GenError> {
        let rt = rt();
        let decode_error = format!("the body does not decode as `{display}`: {{error}}");
        let Some(dedupe) = &self.webhook.dedupe else {
            let key = match delivery_key_header(&self.webhook.signature.scheme) {
                Some(header) => quote!(Ok(#rt::webhook::queue::header(&inbound.headers, #header).map(str::to_owned))),
                None => quote!(Ok(None)),
            };
            return Ok(quote! {
                Box::new(|inbound: &#rt::webhook::Inbound| {
                    if let Err(error) = #rt::wire::json::<#marker>(&inbound.json, #payload) {
                        return Err(format!(#decode_error));
                    }
                    #key
                })
            });
        };
        let mut body = Body::new(self.generator, self.flow.name.clone(), self.flow.locals.clone());
        // The closure's parameter keeps its name.
        body.bind(u32::MAX, "inbound", Ty::Unit, Form::Place);
        let ident = body.bind(self.flow.states.len() as u32, payload, ty.clone(), Form::Place);
        let code = body.expr(dedupe, None)?;
        let text = match &code.ty {
            Ty::Json => quote!(#rt::generated::flow::dedupe_json_key(&key)),
            _ => quote!(#rt::generated::flow::dedupe_key(&key)),
        };
        let fallible = match &code.tried {
            Some(inner) => Some(quote!(#rt::generated::flow::attempt(|| #inner))),
            None => {
                let owned = code.owned();
                owned.to_string().contains('?').then(|| quote!(#rt::generated::flow::attempt(|| Ok(#owned))))
            }
        };
        let key = match fallible {
            Some(value) => quote! {
                match #value {
                    Ok(key) => Ok(Some(#text)),
                    Err(error) => Err(format!("the dedupe key of the event cannot be computed: {error}")),
                }
            },
            None => {
                let owned = code.owned();
                quote! {
                    let key = #owned;
                    Ok(Some(#text))
                }
            }
        };
        Ok(quote! {
            Box::new(|inbound: &#rt::webhook::Inbound| {
                let #ident = match #rt::wire::json::<#marker>(&inbound.json, #payload) {
                    Ok(value) => value,
                    Err(error) => return Err(format!(#decode_error)),
                };
                #key
            })
        })
    }

    /// A signature scheme as a `Scheme` value, its secrets read from `env`
    /// (as the interpreter's `interp::webhook::scheme` builds it).
    fn scheme(&self, signature: &Signature) -> Result<TokenStream, GenError> {
        let rt = rt();
        let webhook = quote!(#rt::webhook);
        let owner = format!("the signature of `{}`", self.flow.name);
        let arg = |name: &str| signature.args.iter().find(|(arg, _)| arg == name).map(|(_, expr)| expr);
        let text = |name: &str| -> Result<Option<TokenStream>, GenError> {
            match arg(name) {
                Some(expr) => {
                    Ok(Some(config(self.generator, &self.flow.name, expr, &format!("`{name}` of {owner}"))?.tokens))
                }
                None => Ok(None),
            }
        };
        let secret = |name: &str| -> Result<TokenStream, GenError> {
            match text(name)? {
                Some(value) => Ok(quote!(#rt::secret::Secret::new(#value))),
                None => Err(self.unsupported(format!("{owner} has no `{name}`"))),
            }
        };
        let tolerance = || -> Result<TokenStream, GenError> {
            match arg("tolerance") {
                Some(Expr::Literal(Literal::Duration { millis })) => {
                    let millis = u64::try_from(*millis).unwrap_or(0);
                    Ok(quote!(::std::time::Duration::from_millis(#millis)))
                }
                Some(_) => Err(self.unsupported(format!("`tolerance` of {owner} is not a duration literal"))),
                None => Ok(quote!(#webhook::signature::DEFAULT_TOLERANCE)),
            }
        };
        let word = |name: &str| -> Result<Option<String>, GenError> {
            match arg(name) {
                None => Ok(None),
                Some(Expr::Literal(Literal::String(word))) => Ok(Some(word.clone())),
                Some(_) => Err(self.unsupported(format!("`{name}` of {owner} is not a word"))),
            }
        };
        Ok(match signature.scheme.as_str() {
            "none" => quote!(#webhook::Scheme::None),
            "github" => {
                let secret = secret("secret")?;
                quote!(#webhook::Scheme::GitHub { secret: #secret })
            }
            "stripe" => {
                let (secret, tolerance) = (secret("secret")?, tolerance()?);
                quote!(#webhook::Scheme::Stripe { secret: #secret, tolerance: #tolerance })
            }
            "standard_webhooks" => {
                let values = match arg("secrets") {
                    Some(Expr::List(items)) => items.iter().collect::<Vec<_>>(),
                    Some(single) => vec![single],
                    None => Vec::new(),
                };
                if values.is_empty() {
                    return Err(self.unsupported(format!("{owner} has no key in `secrets`")));
                }
                let mut keys = Vec::new();
                for value in values {
                    let value = config(self.generator, &self.flow.name, value, &format!("a key of {owner}"))?.tokens;
                    let context = format!("{owner}: {{error}}");
                    keys.push(quote! {
                        #webhook::Key::standard_webhooks(&#rt::secret::Secret::new(#value))
                            .map_err(|error| #rt::http::ConfigError::new(format!(#context)))?
                    });
                }
                let tolerance = tolerance()?;
                quote!(#webhook::Scheme::StandardWebhooks { keys: vec![#(#keys),*], tolerance: #tolerance })
            }
            "hmac" => {
                let secret = secret("secret")?;
                let Some(header) = text("header")? else {
                    return Err(self.unsupported(format!("{owner} has no `header`")));
                };
                let mut settings = Vec::new();
                if let Some(word) = word("algorithm")? {
                    let variant = match word.as_str() {
                        "sha256" => quote!(Sha256),
                        "sha512" => quote!(Sha512),
                        "sha1" => quote!(Sha1),
                        _ => return Err(self.unsupported(format!("`algorithm` of {owner}: unknown `{word}`"))),
                    };
                    settings.push(quote!(scheme.algorithm = #webhook::Algorithm::#variant;));
                }
                if let Some(word) = word("encoding")? {
                    let variant = match word.as_str() {
                        "hex" => quote!(Hex),
                        "base64" => quote!(Base64),
                        _ => return Err(self.unsupported(format!("`encoding` of {owner}: unknown `{word}`"))),
                    };
                    settings.push(quote!(scheme.encoding = #webhook::Encoding::#variant;));
                }
                if let Some(prefix) = text("prefix")? {
                    settings.push(quote!(scheme.prefix = #prefix;));
                }
                let timestamp_header = text("timestamp_header")?;
                let canonical = match (arg("canonical"), &timestamp_header) {
                    (Some(Expr::Literal(Literal::String(template))), _) => {
                        let context = format!("`canonical` of {owner}: {{error}}");
                        quote! {
                            #webhook::Canonical::parse(#template)
                                .map_err(|error| #rt::http::ConfigError::new(format!(#context)))?
                        }
                    }
                    (Some(_), _) => return Err(self.unsupported(format!("`canonical` of {owner} is not a template"))),
                    (None, Some(_)) => quote!(#webhook::Canonical::timestamp_dot_body()),
                    (None, None) => quote!(#webhook::Canonical::body()),
                };
                if let Some(header) = timestamp_header {
                    settings.push(quote!(scheme.timestamp_header = Some(#header);));
                }
                let tolerance = tolerance()?;
                quote! {{
                    let mut scheme = #webhook::HmacScheme::new(#secret, #header);
                    #(#settings)*
                    scheme.tolerance = #tolerance;
                    scheme.canonical = #canonical;
                    #webhook::Scheme::Hmac(scheme)
                }}
            }
            other => return Err(self.unsupported(format!("{owner}: unknown scheme `{other}`"))),
        })
    }
}

/// The header that identifies a delivery under a signature scheme, the
/// delivery key of a flow without `dedupe:` (as
/// `integ_runtime::webhook::delivery_key_header` says at run time).
fn delivery_key_header(scheme: &str) -> Option<&'static str> {
    match scheme {
        "standard_webhooks" => Some("webhook-id"),
        "github" => Some("x-github-delivery"),
        _ => None,
    }
}
