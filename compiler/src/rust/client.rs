//! Apis as typed clients: each api becomes a struct (`pub struct Shop`)
//! holding an `integ_runtime::http::ApiClient` configured exactly as the
//! interpreter configures it (`interp::calls`: base URL, auth shared per
//! `auth` declaration, headers, policy, rate limit, concurrency, error arms,
//! endpoint policies), with one method per endpoint; `pub struct Apis`
//! connects them all.
//!
//! In: the lowered apis of the program. Out: tokens of the structs, their
//! constructors (`from_env`, `with_base_url`/`with_urls`, `configure`) and
//! endpoint methods. A single result is `async fn ... -> Result<T,
//! CallFailure>`, no content `Result<(), CallFailure>`, a stream a
//! `Pages<T>` that fetches pages as they are read.
//!
//! Configuration (`env(...)`, secrets, literals, interpolations of those) is
//! read from an `Env` when the client is built: secrets' values, and their
//! defaults, never appear in generated code. An endpoint's expressions
//! (path, query, headers, body, `select`, `records`, pagination) go through
//! the expression generator in the endpoint's frame: its parameters, then
//! `body`, `headers` and `status`.

use std::collections::{BTreeMap, HashSet};

use proc_macro2::{Literal as Lit, TokenStream};
use quote::{format_ident, quote};

use super::expr::{Body, Code, Form};
use super::{GenError, Generator, rt};
use crate::check::literals::StatusPattern;
use crate::check::policy::{self as checked_policy, PolicyInfo};
use crate::check::types::Ty;
use crate::ir::api::{self as ir_api, Pagination};
use crate::ir::{Expr, Literal, Part};

/// Every api's client struct, the policies they use, and `Apis`.
pub(super) fn clients(generator: &Generator<'_>) -> Result<TokenStream, GenError> {
    let program = generator.program;
    // Flows take an `Apis`, even when the program has no api.
    if program.apis.is_empty() && !program.flows.iter().any(|flow| generator.includes_flow(&flow.name)) {
        return Ok(TokenStream::new());
    }
    let rt = rt();
    let mut policies = BTreeMap::new();
    let mut items = Vec::new();
    let mut fields = Vec::new();
    let mut connects = Vec::new();
    for api in &program.apis {
        let client = ApiGen { generator, api, name: api_ident(generator, &api.name) };
        items.push(client.item(&mut policies)?);
        let field = format_ident!("{}", snake(&api.name));
        let ty = &client.name;
        let doc = format!(" `{}`.", api.name);
        fields.push(quote!(#[doc = #doc] pub #field: #ty,));
        connects.push(quote!(#field: #ty::connect(env, redirects, &mut shared)?,));
    }
    let mut policy_fns = Vec::new();
    for (index, name) in &policies {
        let Some(info) = program.policies.get(*index as usize) else { continue };
        let body = policy_tokens(info);
        let doc = format!(" The policy `{}`.", info.name);
        policy_fns.push(quote! {
            #[doc = #doc]
            pub(super) fn #name() -> #rt::http::Policy {
                #body
            }
        });
    }
    let policies = if policy_fns.is_empty() {
        TokenStream::new()
    } else {
        quote! {
            /// The policies the apis use, as the interpreter configures them.
            mod policies {
                #(#policy_fns)*
            }
        }
    };
    let connect = if connects.is_empty() {
        quote! {
            let _ = (env, redirects);
            Ok(Apis {})
        }
    } else {
        quote! {
            let mut shared = ::std::collections::HashMap::new();
            Ok(Apis { #(#connects)* })
        }
    };
    Ok(quote! {
        #(#items)*

        #policies

        /// Every api of the program, connected; apis that name the same
        /// `auth` declaration share its credentials (and OAuth2 tokens).
        #[derive(Clone)]
        pub struct Apis {
            #(#fields)*
        }

        impl Apis {
            /// Every api, configured from the process's environment.
            pub fn from_env() -> Result<Apis, #rt::http::ConfigError> {
                Apis::configure(&#rt::generated::Env::process(), &#rt::generated::Redirects::default())
            }

            /// Every api, configured from `env`, with the base and token URLs
            /// of `redirects` in place of the declared ones.
            pub fn configure(
                env: &#rt::generated::Env,
                redirects: &#rt::generated::Redirects,
            ) -> Result<Apis, #rt::http::ConfigError> {
                #connect
            }
        }
    })
}

/// The Rust name of an api's struct: its name, unless a generated type has it.
fn api_ident(generator: &Generator<'_>, name: &str) -> proc_macro2::Ident {
    let types = &generator.program.types;
    let taken = types.records.iter().any(|record| record.name == name)
        || types.enums.iter().any(|definition| definition.name == name)
        || name == "Apis";
    if taken { format_ident!("{}Api", name) } else { super::ident(name) }
}

/// `GitHub` → `git_hub`.
pub(super) fn snake(name: &str) -> String {
    let mut out = String::new();
    let mut previous_lower = false;
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            if previous_lower {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
            previous_lower = false;
        } else {
            out.push(c);
            previous_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        }
    }
    match super::names::rust_ident(&out) {
        Some(ident) if !ident.to_string().starts_with("r#") && ident == out.as_str() => out,
        _ => format!("{out}_api"),
    }
}

struct ApiGen<'g, 'a> {
    generator: &'g Generator<'a>,
    api: &'g ir_api::Api,
    name: proc_macro2::Ident,
}

/// A configuration value as code: `String` tokens (using `env`, `?` on a
/// `ConfigError`), and whether it holds a secret.
pub(super) struct Config {
    pub(super) tokens: TokenStream,
    pub(super) secret: bool,
}

impl<'g, 'a> ApiGen<'g, 'a> {
    fn unsupported(&self, message: impl Into<String>) -> GenError {
        GenError::Unsupported { item: self.api.name.clone(), message: message.into() }
    }

    fn policy(&self, index: u32, policies: &mut BTreeMap<u32, proc_macro2::Ident>) -> TokenStream {
        let count = policies.len();
        let name = policies
            .entry(index)
            .or_insert_with(|| {
                let name = self.generator.program.policies.get(index as usize).map(|info| info.name.clone());
                match name.as_deref().and_then(super::names::rust_ident) {
                    Some(ident) if !ident.to_string().starts_with("r#") => ident,
                    _ => format_ident!("policy_{}", count),
                }
            })
            .clone();
        quote!(policies::#name())
    }

    fn item(&self, policies: &mut BTreeMap<u32, proc_macro2::Ident>) -> Result<TokenStream, GenError> {
        let rt = rt();
        let api = self.api;
        let name = &self.name;
        let api_name = &api.name;
        let base_url = self.config(&api.base_url, "base_url")?.tokens;
        let policy = self.policy(api.policy, policies);
        let errors = error_arms(&api.errors);
        let auth = self.auth()?;
        let auth = match &api.auth.declaration {
            Some(declaration) => quote! {
                match shared.get(#declaration) {
                    Some(auth) => ::std::clone::Clone::clone(auth),
                    None => {
                        let auth = #rt::http::SharedAuth::new(#auth);
                        shared.insert(#declaration, ::std::clone::Clone::clone(&auth));
                        auth
                    }
                }
            },
            None => quote!(#rt::http::SharedAuth::new(#auth)),
        };
        let mut settings = Vec::new();
        for (header, expr) in &api.headers {
            let value = self.config(expr, &format!("header `{header}`"))?;
            let value = credential(value);
            settings.push(quote!(config = config.header(#header, #value);));
        }
        if let Some(rate) = api.rate_limit {
            let rate = rate_tokens(rate);
            settings.push(quote!(config = config.rate_limit(#rate);));
        }
        if let Some(concurrency) = api.concurrency {
            let concurrency = u32::try_from(concurrency).unwrap_or(u32::MAX);
            settings.push(quote!(config = config.concurrency(#concurrency);));
        }
        let mut options = Vec::new();
        let mut methods = Vec::new();
        for (position, endpoint) in api.endpoints.iter().enumerate() {
            options.push(self.endpoint_options(endpoint, policies));
            methods.push(self.method(position, endpoint)?);
        }
        let count = Lit::usize_unsuffixed(api.endpoints.len());
        let oauth = api.auth.scheme.starts_with("oauth2");
        let explicit = if oauth {
            quote! {
                /// The api at `base_url`, its OAuth2 tokens from `token_url`, the
                /// rest of its configuration (secrets too) read from `env`: for
                /// tests and local stand-ins.
                pub fn with_urls(env: &#rt::generated::Env, base_url: &str, token_url: &str) -> Result<#name, #rt::http::ConfigError> {
                    let mut redirects = #rt::generated::Redirects::default();
                    redirects.base_urls.insert(#api_name.to_owned(), base_url.to_owned());
                    redirects.token_urls.insert(#api_name.to_owned(), token_url.to_owned());
                    #name::configure(env, &redirects)
                }
            }
        } else {
            quote! {
                /// The api at `base_url`, the rest of its configuration
                /// (secrets too) read from `env`: for tests and local stand-ins.
                pub fn with_base_url(env: &#rt::generated::Env, base_url: &str) -> Result<#name, #rt::http::ConfigError> {
                    let mut redirects = #rt::generated::Redirects::default();
                    redirects.base_urls.insert(#api_name.to_owned(), base_url.to_owned());
                    #name::configure(env, &redirects)
                }
            }
        };
        let doc = self.generator.doc(&api.name);
        let uses_env = !matches!(&api.base_url, Expr::Literal(_))
            || api.headers.iter().any(|(_, expr)| !matches!(expr, Expr::Literal(_)))
            || api.auth.args.iter().any(|(_, expr)| !matches!(expr, Expr::Literal(_) | Expr::List(_)));
        let env_param = if uses_env { quote!(env) } else { quote!(_env) };
        let uses_shared = api.auth.declaration.is_some();
        let shared_param = if uses_shared { quote!(shared) } else { quote!(_shared) };
        let mut_config = if settings.is_empty() { quote!() } else { quote!(mut) };
        Ok(quote! {
            #doc
            #[derive(Clone)]
            pub struct #name {
                client: #rt::http::ApiClient,
                endpoints: [#rt::http::EndpointOptions; #count],
            }

            impl #name {
                /// The api configured from the process's environment, as the program declares it.
                pub fn from_env() -> Result<#name, #rt::http::ConfigError> {
                    #name::configure(&#rt::generated::Env::process(), &#rt::generated::Redirects::default())
                }

                #explicit

                /// The api configured from `env`, with the base and token URLs of
                /// `redirects` (by api name) in place of the declared ones.
                pub fn configure(
                    env: &#rt::generated::Env,
                    redirects: &#rt::generated::Redirects,
                ) -> Result<#name, #rt::http::ConfigError> {
                    #name::connect(env, redirects, &mut ::std::collections::HashMap::new())
                }

                fn connect(
                    #env_param: &#rt::generated::Env,
                    redirects: &#rt::generated::Redirects,
                    #shared_param: &mut ::std::collections::HashMap<&'static str, #rt::http::SharedAuth>,
                ) -> Result<#name, #rt::http::ConfigError> {
                    let base_url = match redirects.base_urls.get(#api_name) {
                        Some(url) => ::std::clone::Clone::clone(url),
                        None => #base_url,
                    };
                    let #mut_config config = #rt::http::ApiConfig::new(#api_name, base_url)
                        .policy(#policy)
                        .errors(#errors)
                        .auth(#auth);
                    #(#settings)*
                    let client = #rt::http::ApiClient::new(config)
                        .map_err(|error| #rt::http::ConfigError::new(format!("`{}`: {}", #api_name, error.message())))?;
                    let endpoints = [#(#options),*];
                    Ok(#name { client, endpoints })
                }

                #(#methods)*
            }
        })
    }

    /// A configuration expression as `String` code.
    fn config(&self, expr: &Expr, what: &str) -> Result<Config, GenError> {
        config(self.generator, &self.api.name, expr, what)
    }

    fn arg(&self, name: &str) -> Option<&Expr> {
        self.api.auth.args.iter().find(|(arg, _)| arg == name).map(|(_, expr)| expr)
    }

    fn required(&self, name: &str) -> Result<Config, GenError> {
        match self.arg(name) {
            Some(expr) => self.config(expr, &format!("`{name}` of the auth")),
            None => Err(self.unsupported(format!("the auth has no `{name}`"))),
        }
    }

    fn optional(&self, name: &str) -> Result<TokenStream, GenError> {
        Ok(match self.arg(name) {
            Some(expr) => {
                let value = self.config(expr, &format!("`{name}` of the auth"))?.tokens;
                quote!(Some(#value))
            }
            None => quote!(None),
        })
    }

    /// A bare word of the auth (`auth_style: body`), known when generating.
    fn word(&self, name: &str) -> Result<Option<String>, GenError> {
        match self.arg(name) {
            None => Ok(None),
            Some(Expr::Literal(Literal::String(text))) => Ok(Some(text.clone())),
            Some(_) => Err(self.unsupported(format!("`{name}` of the auth is not a literal"))),
        }
    }

    fn duration(&self, name: &str, default_ms: u64) -> Result<TokenStream, GenError> {
        let millis = match self.arg(name) {
            None => default_ms,
            Some(Expr::Literal(Literal::Duration { millis })) => (*millis).max(0) as u64,
            Some(_) => return Err(self.unsupported(format!("`{name}` of the auth is not a literal duration"))),
        };
        Ok(quote!(::std::time::Duration::from_millis(#millis)))
    }

    fn scopes(&self) -> Result<TokenStream, GenError> {
        match self.arg("scopes") {
            None => Ok(quote!(Vec::new())),
            Some(Expr::List(items)) => {
                let mut scopes = Vec::new();
                for item in items {
                    match item {
                        Expr::Literal(Literal::String(text)) => scopes.push(quote!(String::from(#text))),
                        _ => return Err(self.unsupported("`scopes` of the auth is not a list of string literals")),
                    }
                }
                Ok(quote!(vec![#(#scopes),*]))
            }
            Some(_) => Err(self.unsupported("`scopes` of the auth is not a list of string literals")),
        }
    }

    /// The `Auth` value, as `interp::calls` builds it.
    fn auth(&self) -> Result<TokenStream, GenError> {
        let rt = rt();
        let http = quote!(#rt::http);
        let secret = |config: Config| {
            let tokens = config.tokens;
            quote!(#rt::secret::Secret::new(#tokens))
        };
        let api_name = &self.api.name;
        let token_url = || -> Result<TokenStream, GenError> {
            let declared = self.required("token_url")?.tokens;
            Ok(quote! {
                match redirects.token_urls.get(#api_name) {
                    Some(url) => ::std::clone::Clone::clone(url),
                    None => #declared,
                }
            })
        };
        Ok(match self.api.auth.scheme.as_str() {
            "none" => quote!(#http::Auth::None),
            "bearer" => {
                let token = secret(self.required("token")?);
                quote!(#http::Auth::Bearer(#token))
            }
            "basic" => {
                let username = credential(self.required("username")?);
                let password = secret(self.required("password")?);
                quote!(#http::Auth::Basic { username: #username, password: #password })
            }
            "api_key" => {
                let value = credential(self.required("value")?);
                let location = match (self.arg("header"), self.arg("query")) {
                    (Some(header), _) => {
                        let header = self.config(header, "`header` of the auth")?.tokens;
                        quote!(#http::ApiKeyLocation::Header(#header))
                    }
                    (None, Some(query)) => {
                        let query = self.config(query, "`query` of the auth")?.tokens;
                        quote!(#http::ApiKeyLocation::Query(#query))
                    }
                    (None, None) => return Err(self.unsupported("the auth says neither `header` nor `query`")),
                };
                quote!(#http::Auth::ApiKey { location: #location, value: #value })
            }
            "oauth2_client_credentials" => {
                let token_url = token_url()?;
                let client_id = credential(self.required("client_id")?);
                let client_secret = secret(self.required("client_secret")?);
                let scopes = self.scopes()?;
                let audience = self.optional("audience")?;
                let refresh_before = self.duration("refresh_before", 60_000)?;
                let style = if self.word("auth_style")?.as_deref() == Some("body") {
                    quote!(#http::AuthStyle::Body)
                } else {
                    quote!(#http::AuthStyle::Header)
                };
                quote!({
                    let mut scheme = #http::OAuth2ClientCredentials::new(#token_url, #client_id, #client_secret);
                    scheme.scopes = #scopes;
                    scheme.audience = #audience;
                    scheme.refresh_before = #refresh_before;
                    scheme.auth_style = #style;
                    #http::Auth::OAuth2ClientCredentials(scheme)
                })
            }
            "oauth2_refresh_token" => {
                let token_url = token_url()?;
                let client_id = credential(self.required("client_id")?);
                let refresh_token = secret(self.required("refresh_token")?);
                let client_secret = match self.arg("client_secret") {
                    Some(expr) => {
                        let value = secret(self.config(expr, "`client_secret` of the auth")?);
                        quote!(Some(#value))
                    }
                    None => quote!(None),
                };
                let scopes = self.scopes()?;
                let refresh_before = self.duration("refresh_before", 60_000)?;
                quote!({
                    let mut scheme = #http::OAuth2RefreshToken::new(#token_url, #client_id, #refresh_token);
                    scheme.client_secret = #client_secret;
                    scheme.scopes = #scopes;
                    scheme.refresh_before = #refresh_before;
                    #http::Auth::OAuth2RefreshToken(scheme)
                })
            }
            "hmac" => {
                let key = secret(self.required("secret")?);
                let mut settings = Vec::new();
                if let Some(expr) = self.arg("header") {
                    let header = self.config(expr, "`header` of the auth")?.tokens;
                    settings.push(quote!(scheme.header = #header;));
                }
                let algorithm = if self.word("algorithm")?.as_deref() == Some("sha512") {
                    quote!(#http::HmacAlgorithm::Sha512)
                } else {
                    quote!(#http::HmacAlgorithm::Sha256)
                };
                let encoding = if self.word("encoding")?.as_deref() == Some("base64") {
                    quote!(#http::SignatureEncoding::Base64)
                } else {
                    quote!(#http::SignatureEncoding::Hex)
                };
                settings.push(quote!(scheme.algorithm = #algorithm;));
                settings.push(quote!(scheme.encoding = #encoding;));
                if let Some(expr) = self.arg("canonical") {
                    let canonical = self.config(expr, "`canonical` of the auth")?.tokens;
                    let owner = format!("auth of `{}`", self.api.name);
                    settings.push(quote! {
                        scheme.canonical = #http::Canonical::Template(
                            #http::CanonicalTemplate::parse(&#canonical)
                                .map_err(|error| #http::ConfigError::new(format!("{}: {}", #owner, error.message())))?,
                        );
                    });
                }
                let timestamp_header = self.optional("timestamp_header")?;
                settings.push(quote!(scheme.timestamp_header = #timestamp_header;));
                let key_id = match self.arg("key_id") {
                    Some(expr) => {
                        let value = credential(self.config(expr, "`key_id` of the auth")?);
                        quote!(Some(#value))
                    }
                    None => quote!(None),
                };
                settings.push(quote!(scheme.key_id = #key_id;));
                let key_id_header = self.optional("key_id_header")?;
                settings.push(quote!(scheme.key_id_header = #key_id_header;));
                quote!({
                    let mut scheme = #http::HmacAuth::new(#key);
                    #(#settings)*
                    #http::Auth::Hmac(scheme)
                })
            }
            other => return Err(self.unsupported(format!("the auth scheme `{other}`"))),
        })
    }

    fn endpoint_options(
        &self,
        endpoint: &ir_api::Endpoint,
        policies: &mut BTreeMap<u32, proc_macro2::Ident>,
    ) -> TokenStream {
        let rt = rt();
        let name = &endpoint.name;
        let errors = error_arms(&endpoint.errors);
        let idempotent = endpoint.idempotent;
        let options = quote!(#rt::http::EndpointOptions::new(#name).errors(#errors).idempotent(#idempotent));
        match endpoint.policy {
            None => options,
            Some(index) => {
                let policy = self.policy(index, policies);
                let owner = format!("{}.{}", self.api.name, endpoint.name);
                quote!({
                    let policy = #policy;
                    let limits = #rt::http::Limits::for_endpoint_policy(#owner, &policy)?;
                    #options.policy(policy).limits(::std::sync::Arc::new(limits))
                })
            }
        }
    }

    /// The method of one endpoint, and its private helpers (the request,
    /// the reading of an answer or a page).
    fn method(&self, position: usize, endpoint: &ir_api::Endpoint) -> Result<TokenStream, GenError> {
        let rt = rt();
        let item = format!("{}.{}", self.api.name, endpoint.name);
        let unsupported = |message: String| GenError::Unsupported { item: item.clone(), message };
        let method_name = super::ident(&endpoint.name);
        let request_fn = format_ident!("{}_request", endpoint.name);
        let api_name = &self.api.name;
        let endpoint_name = &endpoint.name;
        let http_method =
            http_method(&endpoint.method).ok_or_else(|| unsupported(format!("the method `{}`", endpoint.method)))?;

        // The request, from the parameters.
        let mut body = self.frame(endpoint);
        let mut params = Vec::new();
        let mut method_params = Vec::new();
        let mut defaults = Vec::new();
        let mut args = Vec::new();
        let mut string_param = false;
        for (slot, (param, ty)) in endpoint.params.iter().enumerate() {
            let rust = match ty {
                Ty::List(inner) => {
                    let inner = body.rust_type(inner)?;
                    quote!([#inner])
                }
                other => body.rust_type(other)?,
            };
            string_param |= matches!(ty, Ty::String);
            let ident = body.bind(slot as u32, param, ty.clone(), Form::Ref);
            if super::reads_local(self.generator.program, &request_exprs(endpoint), slot as u32) {
                params.push(quote!(#ident: &#rust));
            } else {
                // A parameter the request never reads (the checker warns about it).
                let unused = format_ident!("_{}", param);
                params.push(quote!(#unused: &#rust));
            }
            args.push(quote!(#ident));
            // A parameter with a default is optional: `None` takes the default.
            match endpoint.defaults.get(slot).cloned().flatten() {
                None => method_params.push(quote!(#ident: &#rust)),
                Some(default) => {
                    if !matches!(default, Expr::Literal(_)) {
                        return Err(unsupported(format!("the default of `{param}`, which is not a literal")));
                    }
                    let mut scratch = self.frame(endpoint);
                    let value = scratch.expr(&default, Some(ty))?;
                    let value = scratch.coerce(value, ty)?.owned();
                    let default_ident = format_ident!("default_{}", param);
                    method_params.push(quote!(#ident: Option<&#rust>));
                    defaults.push(quote! {
                        let #default_ident;
                        let #ident = match #ident {
                            Some(value) => value,
                            None => {
                                #default_ident = #value;
                                &#default_ident
                            }
                        };
                    });
                }
            }
        }
        let request = self.request(&mut body, endpoint, &http_method)?;
        let allow = match (endpoint.params.len() > 6, string_param) {
            (true, _) => quote!(#[allow(clippy::ptr_arg, clippy::too_many_arguments)]),
            (false, true) => quote!(#[allow(clippy::ptr_arg)]),
            (false, false) => quote!(),
        };
        let request_doc = format!(" The request of `{item}`.");
        let request_fn_item = quote! {
            #[doc = #request_doc]
            #allow
            fn #request_fn(#(#params),*) -> Result<#rt::http::Request, #rt::EvalError> {
                #request
            }
        };
        let make_request = quote! {
            #(#defaults)*
            let request = Self::#request_fn(#(#args),*)
                .map_err(|error| #rt::generated::client::eval_failure(#api_name, #endpoint_name, error))?;
        };
        let options = Lit::usize_unsuffixed(position);
        let doc = doc_of(self.generator, endpoint);
        let failure = quote!(#rt::generated::CallFailure);
        Ok(match &endpoint.result {
            ir_api::Result::Unit => quote! {
                #request_fn_item

                #doc
                #allow
                pub async fn #method_name(&self, #(#method_params),*) -> Result<(), #failure> {
                    #make_request
                    self.client.send(request, &self.endpoints[#options]).await?;
                    Ok(())
                }
            },
            ir_api::Result::Single { ty, select } => {
                let none_arm = endpoint.errors.iter().chain(&self.api.errors).any(|arm| arm.name.is_none());
                let result = body.rust_type(ty)?;
                let none = if none_arm {
                    if !ty.is_optional() {
                        return Err(unsupported(
                            "an error arm `=> none` on an endpoint whose result is not optional".into(),
                        ));
                    }
                    quote!(if response.none {
                        return Ok(None);
                    })
                } else {
                    quote!()
                };
                let (read, helper) = match select {
                    None => {
                        let marker = body.format_marker(ty)?;
                        (
                            quote!(#rt::wire::json::<#marker>(&response.body, "body").map_err(#rt::EvalError::from)),
                            quote!(),
                        )
                    }
                    Some(select) => {
                        let answer_fn = format_ident!("{}_answer", endpoint.name);
                        let mut reader = self.frame(endpoint);
                        let bindings = self.bind_response(&mut reader, endpoint, &[select])?;
                        let value = reader.expr(select, Some(ty))?;
                        let value = reader.coerce(value, ty)?;
                        let value = match &value.tried {
                            Some(inner) => inner.clone(),
                            None => {
                                let owned = value.owned();
                                quote!(Ok(#owned))
                            }
                        };
                        let answer_doc = format!(" Reads an answer of `{item}`: its `select`.");
                        (
                            quote!(Self::#answer_fn(&response)),
                            quote! {
                                #[doc = #answer_doc]
                                fn #answer_fn(response: &#rt::http::Response) -> Result<#result, #rt::EvalError> {
                                    #bindings
                                    #value
                                }
                            },
                        )
                    }
                };
                quote! {
                    #request_fn_item
                    #helper

                    #doc
                    #allow
                    pub async fn #method_name(&self, #(#method_params),*) -> Result<#result, #failure> {
                        #make_request
                        let response = self.client.send(request, &self.endpoints[#options]).await?;
                        #none
                        let value = #read.map_err(|error| {
                            #rt::generated::client::decode_failure(#api_name, #endpoint_name, #http_method, &response, error)
                        })?;
                        Ok(value)
                    }
                }
            }
            ir_api::Result::Stream { item: record, records, pagination, max_pages } => {
                let page_fn = format_ident!("{}_page", endpoint.name);
                let record_ty = body.rust_type(record)?;
                let reader = self.page_reader(endpoint, record, records.as_ref(), pagination.as_ref())?;
                let style = page_style(pagination.as_ref());
                let max_pages = u32::try_from(*max_pages).unwrap_or(u32::MAX);
                let page_doc = format!(" Reads a page of `{item}`: its records, and what the pagination needs.");
                quote! {
                    #request_fn_item

                    #[doc = #page_doc]
                    fn #page_fn(
                        response: &#rt::http::Response,
                    ) -> Result<(Vec<#record_ty>, #rt::http::PageOutcome), #rt::EvalError> {
                        #reader
                    }

                    #doc
                    ///
                    /// No request is sent until the first page is asked for.
                    #allow
                    pub fn #method_name(&self, #(#method_params),*) -> Result<#rt::generated::Pages<#record_ty>, #failure> {
                        #make_request
                        let paging = #rt::generated::Paging {
                            api: #api_name,
                            endpoint: #endpoint_name,
                            style: #style,
                            max_pages: #max_pages,
                        };
                        Ok(#rt::generated::Pages::new(&self.client, &self.endpoints[#options], request, paging, Self::#page_fn))
                    }
                }
            }
        })
    }

    /// A body generator for the endpoint's frame, its slots named.
    fn frame(&self, endpoint: &ir_api::Endpoint) -> Body<'g, 'a> {
        let mut names: Vec<String> = vec![String::new(); endpoint.frame_size as usize];
        for (slot, (param, _)) in endpoint.params.iter().enumerate() {
            if let Some(name) = names.get_mut(slot) {
                name.clone_from(param);
            }
        }
        for (slot, name) in
            [(endpoint.body_slot, "body"), (endpoint.headers_slot, "headers"), (endpoint.status_slot, "status")]
        {
            if let Some(entry) = names.get_mut(slot as usize) {
                *entry = name.to_owned();
            }
        }
        Body::new(self.generator, format!("{}.{}", self.api.name, endpoint.name), names)
    }

    /// The statements that build the request, ending with `Ok(request)`.
    fn request(
        &self,
        body: &mut Body<'_, '_>,
        endpoint: &ir_api::Endpoint,
        method: &TokenStream,
    ) -> Result<TokenStream, GenError> {
        let rt = rt();
        let http = quote!(#rt::http);
        let mut statements = Vec::new();
        statements.push(quote!(let path = #http::PathTemplate::new();));
        for part in &endpoint.path {
            statements.push(match part {
                ir_api::PathPart::Text(text) => quote!(let path = path.literal(#text);),
                ir_api::PathPart::Value(expr, _) => {
                    let code = body.expr(expr, None)?;
                    let text = text_of(&code);
                    quote!(let path = path.param(#text);)
                }
            });
        }
        let start = statements.len();
        statements.push(quote!());
        for (key, expr, _) in &endpoint.query {
            let code = body.expr(expr, None)?;
            statements.push(match &code.ty {
                Ty::None => quote!(),
                Ty::Optional(inner) if matches!(**inner, Ty::List(_)) => {
                    return Err(body.unsupported(format!("the optional list in query parameter `{key}`")));
                }
                Ty::Optional(_) => {
                    let value = code.borrow();
                    quote! {
                        if let Some(value) = #value {
                            builder = builder.query(#key, #rt::generated::text(value));
                        }
                    }
                }
                Ty::List(inner) => {
                    let value = code.paren();
                    let items = if inner.is_optional() { quote!(.iter().flatten()) } else { quote!(.iter()) };
                    quote!(builder = builder.query_all(#key, #value #items.map(#rt::generated::text));)
                }
                _ => {
                    let text = text_of(&code);
                    quote!(builder = builder.query(#key, #text);)
                }
            });
        }
        for (name, expr) in &endpoint.headers {
            let code = body.expr(expr, None)?;
            statements.push(match &code.ty {
                Ty::None => quote!(),
                Ty::Optional(_) => {
                    let value = code.borrow();
                    quote! {
                        if let Some(value) = #value {
                            builder = builder.header(#name, &#rt::generated::text(value));
                        }
                    }
                }
                _ => {
                    let text = match code.form {
                        Form::Str => code.tokens.clone(),
                        _ => {
                            let text = text_of(&code);
                            quote!(&#text)
                        }
                    };
                    quote!(builder = builder.header(#name, #text);)
                }
            });
        }
        if let Some(request_body) = &endpoint.body {
            let (expr, ty) = match request_body {
                ir_api::Body::Json(expr, ty) | ir_api::Body::Form(expr, ty) | ir_api::Body::Xml(expr, ty, _) => {
                    (expr, ty)
                }
            };
            let code = body.expr(expr, Some(ty))?;
            let code = body.coerce(code, ty)?;
            let marker = body.format_marker(ty)?;
            let value = code.borrow();
            statements.push(match request_body {
                ir_api::Body::Json(..) => quote! {
                    let mut bytes = Vec::new();
                    #rt::wire::to_json::<#marker>(#value, &mut bytes)?;
                    builder = builder.body(#http::Body::json(bytes));
                },
                ir_api::Body::Form(..) => quote! {
                    builder = builder.body(#rt::generated::client::form_body(#rt::generated::to_json::<#marker>(#value)?)?);
                },
                ir_api::Body::Xml(_, _, root) => quote! {
                    builder = builder.body(#rt::generated::client::xml_body(#rt::generated::to_json::<#marker>(#value)?, #root)?);
                },
            });
        }
        if let Some(key) = &endpoint.idempotency_key {
            let code = body.expr(key, None)?;
            let text = text_of(&code);
            statements.push(quote!(builder = builder.idempotency_key(#text);));
            if let Some(header) = &endpoint.idempotency_header {
                statements.push(quote!(builder = builder.idempotency_header(#header);));
            }
        }
        let mutable = if statements.len() > start + 1 { quote!(mut) } else { quote!() };
        statements[start] = quote!(let #mutable builder = #http::Request::builder(#method).path(path););
        Ok(quote! {
            #(#statements)*
            Ok(builder.build()?)
        })
    }

    /// `let body = ...; let headers = ...; let status = ...;` for the slots `exprs` read.
    fn bind_response(
        &self,
        body: &mut Body<'_, '_>,
        endpoint: &ir_api::Endpoint,
        exprs: &[&Expr],
    ) -> Result<TokenStream, GenError> {
        let rt = rt();
        let mut read = HashSet::new();
        for expr in exprs {
            super::walk(self.generator.program, expr, &mut |inner| {
                if let Expr::Local(slot) = inner {
                    read.insert(*slot);
                }
            });
        }
        for (slot, _) in endpoint.params.iter().enumerate() {
            if read.contains(&(slot as u32)) {
                return Err(body.unsupported("a page or answer expression that reads a parameter"));
            }
        }
        let mut statements = Vec::new();
        if read.contains(&endpoint.body_slot) {
            let ty = endpoint.response.clone();
            let rust = body.rust_type(&ty)?;
            let ident = body.bind(endpoint.body_slot, "body", ty.clone(), Form::Place);
            statements.push(if ty == Ty::Json {
                quote! {
                    let #ident: #rust = if response.body.is_empty() {
                        #rt::Json::Null
                    } else {
                        #rt::wire::json::<#rt::wire::Json>(&response.body, "body")?
                    };
                }
            } else {
                let marker = body.format_marker(&ty)?;
                quote!(let #ident: #rust = #rt::wire::json::<#marker>(&response.body, "body")?;)
            });
        }
        if read.contains(&endpoint.headers_slot) {
            let ident = body.bind(endpoint.headers_slot, "headers", Ty::Map(Box::new(Ty::String)), Form::Place);
            statements.push(quote!(let #ident = #rt::generated::client::response_headers(response);));
        }
        if read.contains(&endpoint.status_slot) {
            let ident = body.bind(endpoint.status_slot, "status", Ty::Int, Form::Place);
            statements.push(quote!(let #ident = i64::from(response.status);));
        }
        Ok(quote!(#(#statements)*))
    }

    /// The body of a page reader: records and outcome, as `interp::calls::read_page`.
    fn page_reader(
        &self,
        endpoint: &ir_api::Endpoint,
        item: &Ty,
        records: Option<&Expr>,
        pagination: Option<&Pagination>,
    ) -> Result<TokenStream, GenError> {
        let rt = rt();
        let mut body = self.frame(endpoint);
        let list = Ty::List(Box::new(item.clone()));
        if records.is_none() && matches!(pagination, None | Some(Pagination::LinkHeader { .. })) {
            let marker = body.format_marker(&list)?;
            return Ok(quote! {
                let page = #rt::wire::json::<#marker>(&response.body, "body")?;
                let outcome = #rt::http::PageOutcome::records(page.len())
                    .with_fingerprint(#rt::generated::client::fingerprint(&response.body));
                Ok((page, outcome))
            });
        }
        let mut exprs: Vec<&Expr> = Vec::new();
        exprs.extend(records);
        match pagination {
            Some(Pagination::Cursor { next, has_more, .. }) => {
                exprs.push(next);
                exprs.extend(has_more.as_ref());
            }
            Some(Pagination::NextUrl { url }) => exprs.push(url),
            Some(Pagination::Page { stop: Some(stop), .. } | Pagination::Offset { stop: Some(stop), .. }) => {
                exprs.push(stop)
            }
            _ => {}
        }
        // Without `records`, the body is the list.
        let body_expr = Expr::Local(endpoint.body_slot);
        if records.is_none() {
            exprs.push(&body_expr);
        }
        let bindings = self.bind_response(&mut body, endpoint, &exprs)?;
        let mut settings = Vec::new();
        match pagination {
            Some(Pagination::Cursor { next, has_more, .. }) => {
                let next = body.expr(next, None)?;
                let next = next_text(&next);
                settings.push(quote!(outcome.next = #next;));
                if let Some(has_more) = has_more {
                    let has_more = body.expr(has_more, None)?;
                    let truth = truth(&has_more);
                    settings.push(quote!(outcome.has_more = Some(#truth);));
                }
            }
            Some(Pagination::NextUrl { url }) => {
                let url = body.expr(url, None)?;
                let next = next_text(&url);
                settings.push(quote!(outcome.next = #next;));
            }
            Some(Pagination::Page { stop: Some(stop), .. } | Pagination::Offset { stop: Some(stop), .. }) => {
                let stop = body.expr(stop, None)?;
                let truth = truth(&stop);
                settings.push(quote!(outcome.stop = #truth;));
            }
            _ => {}
        }
        // The records last: they are moved out of `body`, which the
        // pagination's expressions read first (when they read it once).
        let expr = records.unwrap_or(&body_expr);
        let mut reads = 0;
        super::walk(self.generator.program, expr, &mut |expr| {
            if matches!(expr, Expr::Local(slot) if *slot == endpoint.body_slot) {
                reads += 1;
            }
        });
        if reads == 1 {
            body.mark_movable(endpoint.body_slot);
        }
        let page = {
            let code = body.expr(expr, Some(&list))?;
            match &code.ty {
                Ty::Json => {
                    let marker = body.format_marker(&list)?;
                    let value = code.borrow();
                    quote!(#rt::generated::from_json::<#marker>(#value, "body")?)
                }
                Ty::Optional(inner) if **inner == list => {
                    let value = code.owned();
                    quote!(#value.unwrap_or_default())
                }
                ty if *ty == list => code.owned(),
                _ => {
                    let shown = body.display(&code.ty);
                    return Err(body.unsupported(format!("records of type `{shown}`")));
                }
            }
        };
        Ok(quote! {
            #bindings
            let mut outcome = #rt::http::PageOutcome::default()
                .with_fingerprint(#rt::generated::client::fingerprint(&response.body));
            #(#settings)*
            let page: Vec<_> = #page;
            outcome.records = page.len();
            Ok((page, outcome))
        })
    }
}

/// The expressions the request of `endpoint` is built from: path, query,
/// headers, body and idempotency key.
fn request_exprs(endpoint: &ir_api::Endpoint) -> Vec<&Expr> {
    let mut exprs = Vec::new();
    for part in &endpoint.path {
        if let ir_api::PathPart::Value(expr, _) = part {
            exprs.push(expr);
        }
    }
    exprs.extend(endpoint.query.iter().map(|(_, expr, _)| expr));
    exprs.extend(endpoint.headers.iter().map(|(_, expr)| expr));
    if let Some(ir_api::Body::Json(expr, _) | ir_api::Body::Form(expr, _) | ir_api::Body::Xml(expr, _, _)) =
        &endpoint.body
    {
        exprs.push(expr);
    }
    exprs.extend(endpoint.idempotency_key.iter());
    exprs
}

fn doc_of(generator: &Generator<'_>, endpoint: &ir_api::Endpoint) -> TokenStream {
    let _ = generator;
    let text = format!(" `{} {}`.", endpoint.method, endpoint.name);
    quote!(#[doc = #text])
}

/// The text form of a value (`String` tokens), as `encode::text` writes it.
fn text_of(code: &Code) -> TokenStream {
    let rt = rt();
    match code.form {
        Form::Str => {
            let tokens = &code.tokens;
            quote!(String::from(#tokens))
        }
        // A string computed here (an interpolation) is its own text.
        Form::Owned if code.ty == Ty::String => code.tokens.clone(),
        _ => {
            let value = code.borrow();
            quote!(#rt::generated::text(#value))
        }
    }
}

/// A cursor or next URL as `Option<String>`: none for none and `null`.
fn next_text(code: &Code) -> TokenStream {
    let rt = rt();
    match &code.ty {
        Ty::Json => {
            let value = code.borrow();
            quote!(#rt::generated::client::json_text(#value))
        }
        Ty::None => quote!(None),
        Ty::Optional(inner) if **inner == Ty::Json => {
            let value = code.paren();
            quote!(#value.as_ref().and_then(#rt::generated::client::json_text))
        }
        Ty::Optional(_) => {
            let value = code.paren();
            quote!(#value.as_ref().map(#rt::generated::text))
        }
        _ => {
            let text = text_of(code);
            quote!(Some(#text))
        }
    }
}

/// A `has_more` or `stop` value as `bool`: anything but `true` is false.
fn truth(code: &Code) -> TokenStream {
    match &code.ty {
        Ty::Bool => code.owned(),
        Ty::Optional(inner) if **inner == Ty::Bool => {
            let value = code.owned();
            quote!(#value.unwrap_or(false))
        }
        Ty::Json => {
            let value = code.paren();
            quote!(#value.as_bool().unwrap_or(false))
        }
        _ => quote!(false),
    }
}

fn http_method(method: &str) -> Option<TokenStream> {
    let rt = rt();
    let ident = match method {
        "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD" | "OPTIONS" => format_ident!("{}", method),
        _ => return None,
    };
    Some(quote!(#rt::http::Method::#ident))
}

/// A configuration value as a `Credential`.
fn credential(config: Config) -> TokenStream {
    let rt = rt();
    let tokens = config.tokens;
    if config.secret {
        quote!(#rt::http::Credential::Secret(#rt::secret::Secret::new(#tokens)))
    } else {
        quote!(#rt::http::Credential::Text(#tokens))
    }
}

fn page_style(pagination: Option<&Pagination>) -> TokenStream {
    let rt = rt();
    let http = quote!(#rt::http);
    let option = |value: Option<TokenStream>| match value {
        Some(value) => quote!(Some(#value)),
        None => quote!(None),
    };
    match pagination {
        None => quote!(#http::PageStyle::Single),
        Some(Pagination::Cursor { param, .. }) => quote!(#http::PageStyle::Cursor { param: String::from(#param) }),
        Some(Pagination::Page { param, start, size_param, size, .. }) => {
            let start = u64::try_from(*start).unwrap_or(0);
            let size_param = option(size_param.as_ref().map(|name| quote!(String::from(#name))));
            let size = option(size.and_then(|size| u64::try_from(size).ok()).map(|size| quote!(#size)));
            quote!(#http::PageStyle::Page { param: String::from(#param), start: #start, size_param: #size_param, size: #size })
        }
        Some(Pagination::Offset { param, limit_param, limit, .. }) => {
            let limit_param = limit_param.clone().unwrap_or_else(|| "limit".to_owned());
            let limit = limit.and_then(|limit| u64::try_from(limit).ok()).unwrap_or(100);
            quote!(#http::PageStyle::Offset { param: String::from(#param), limit_param: String::from(#limit_param), limit: #limit })
        }
        Some(Pagination::LinkHeader { rel }) => quote!(#http::PageStyle::LinkHeader { rel: String::from(#rel) }),
        Some(Pagination::NextUrl { .. }) => quote!(#http::PageStyle::NextUrl),
    }
}

fn status_pattern(pattern: StatusPattern) -> TokenStream {
    let rt = rt();
    match pattern {
        StatusPattern::Code(code) => quote!(#rt::http::StatusPattern::Exact(#code)),
        StatusPattern::Class(class) => {
            let class = u8::try_from(class).unwrap_or(u8::MAX);
            quote!(#rt::http::StatusPattern::Class(#class))
        }
        StatusPattern::Any => quote!(#rt::http::StatusPattern::Any),
    }
}

fn error_arms(arms: &[ir_api::ErrorArm]) -> TokenStream {
    let rt = rt();
    let arms = arms.iter().map(|arm| {
        let patterns = arm.patterns.iter().copied().map(status_pattern);
        match &arm.name {
            Some(name) => quote!(#rt::http::ErrorArm::new(vec![#(#patterns),*], #name)),
            None => quote!(#rt::http::ErrorArm::none(vec![#(#patterns),*])),
        }
    });
    quote!(vec![#(#arms),*])
}

fn millis(value: u64) -> TokenStream {
    quote!(::std::time::Duration::from_millis(#value))
}

fn rate_tokens(rate: checked_policy::Rate) -> TokenStream {
    let rt = rt();
    let count = u32::try_from(rate.count).unwrap_or(u32::MAX);
    let per = millis(rate.per_ms);
    let burst = u32::try_from(rate.burst).unwrap_or(u32::MAX);
    quote!(#rt::http::Rate::new(#count, #per).with_burst(#burst))
}

/// The runtime's policy from the checked one, as `interp::calls::policy_of` makes it.
fn policy_tokens(info: &PolicyInfo) -> TokenStream {
    let rt = rt();
    let http = quote!(#rt::http);
    let timeout = millis(info.timeout_ms);
    let deadline = match info.deadline_ms {
        Some(deadline) => {
            let deadline = millis(deadline);
            quote!(Some(#deadline))
        }
        None => quote!(None),
    };
    let attempts = u32::try_from(info.attempts).unwrap_or(u32::MAX).max(1);
    let backoff = match info.backoff {
        checked_policy::Backoff::Exponential { base_ms, max_ms, factor } => {
            let (base, max) = (millis(base_ms), millis(max_ms));
            quote!(#http::Backoff::Exponential { base: #base, max: #max, factor: #factor })
        }
        checked_policy::Backoff::Constant { delay_ms } => {
            let delay = millis(delay_ms);
            quote!(#http::Backoff::Constant(#delay))
        }
    };
    let jitter = match info.jitter {
        checked_policy::Jitter::Full => quote!(#http::Jitter::Full),
        checked_policy::Jitter::Equal => quote!(#http::Jitter::Equal),
        checked_policy::Jitter::None => quote!(#http::Jitter::None),
    };
    let retry_on = info.retry_on.iter().map(|retry| match retry {
        checked_policy::RetryOn::Status(pattern) => {
            let pattern = status_pattern(*pattern);
            quote!(#http::RetryOn::Status(#pattern))
        }
        checked_policy::RetryOn::Timeout => quote!(#http::RetryOn::Timeout),
        checked_policy::RetryOn::Connection => quote!(#http::RetryOn::Connection),
    });
    let honor = info.honor_retry_after;
    let breaker = match info.circuit_breaker {
        Some(breaker) => {
            let failures = u32::try_from(breaker.failures).unwrap_or(u32::MAX);
            let probe = millis(breaker.probe_after_ms);
            let successes = u32::try_from(breaker.successes).unwrap_or(u32::MAX).max(1);
            quote!(Some(#http::BreakerConfig { failures: #failures, probe_after: #probe, successes: #successes }))
        }
        None => quote!(None),
    };
    let rate_limit = match info.rate_limit {
        Some(rate) => {
            let rate = rate_tokens(rate);
            quote!(Some(#rate))
        }
        None => quote!(None),
    };
    let concurrency = match info.concurrency {
        Some(limit) => {
            let limit = u32::try_from(limit).unwrap_or(u32::MAX);
            quote!(Some(#limit))
        }
        None => quote!(None),
    };
    quote! {
        #http::Policy {
            timeout: #timeout,
            deadline: #deadline,
            attempts: #attempts,
            backoff: #backoff,
            jitter: #jitter,
            retry_on: vec![#(#retry_on),*],
            honor_retry_after: #honor,
            circuit_breaker: #breaker,
            rate_limit: #rate_limit,
            concurrency: #concurrency,
        }
    }
}

/// A configuration expression of `item` as `String` code: literals,
/// `env(...)`, secrets and interpolations of them.
pub(super) fn config(generator: &Generator<'_>, item: &str, expr: &Expr, what: &str) -> Result<Config, GenError> {
    Ok(match expr {
        Expr::Literal(Literal::String(text)) => Config { tokens: quote!(String::from(#text)), secret: false },
        Expr::Literal(Literal::Int(value)) => {
            let text = value.to_string();
            Config { tokens: quote!(String::from(#text)), secret: false }
        }
        Expr::Literal(Literal::Bool(value)) => {
            let text = value.to_string();
            Config { tokens: quote!(String::from(#text)), secret: false }
        }
        Expr::Env { variable, default } => {
            let default = match default {
                Some(default) => quote!(Some(#default)),
                None => quote!(None),
            };
            Config { tokens: quote!(env.var(#variable, #default)?), secret: false }
        }
        Expr::Secret(index) => {
            let Some(secret) = generator.program.secrets.get(*index as usize) else {
                return Err(GenError::Unsupported {
                    item: item.to_owned(),
                    message: format!("{what}: an unknown secret"),
                });
            };
            let (name, variable) = (&secret.name, &secret.variable);
            Config { tokens: quote!(env.secret(#name, #variable)?), secret: true }
        }
        Expr::Interpolate(parts) => {
            let mut pushes = Vec::new();
            let mut secret = false;
            for part in parts {
                match part {
                    Part::Text(text) => pushes.push(quote!(text.push_str(#text);)),
                    Part::Value(value, _) => {
                        let value = config(generator, item, value, what)?;
                        secret |= value.secret;
                        let tokens = value.tokens;
                        pushes.push(quote!(text.push_str(&#tokens);));
                    }
                }
            }
            Config { tokens: quote!({ let mut text = String::new(); #(#pushes)* text }), secret }
        }
        _ => {
            return Err(GenError::Unsupported {
                item: item.to_owned(),
                message: format!("{what}: a configuration value other than a literal, `env(...)` or a secret"),
            });
        }
    })
}
