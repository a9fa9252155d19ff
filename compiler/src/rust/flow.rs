//! Flows as Rust: one `async fn` per flow, over the program's typed values,
//! with the runtime's [`FlowRun`] doing the bookkeeping of § 12 (committed
//! state, dedupe keys, dead letters, checkpoints, counters), exactly as the
//! interpreter's runner does it.
//!
//! A flow's states are typed locals, its `let`s and loop bindings too. Each
//! unit of work — the run, or a record of a loop — is a labelled block whose
//! value is how it ended (`Result<Control, Failed>`): a failure anywhere in
//! it breaks out of the block with what the runtime decided (§ 12.7).
//! Expressions that can fail run inside `flow::attempt(|| ...)`, so that
//! their `?` ends there, not in the flow.
//!
//! [`FlowRun`]: integ_runtime::generated::flow::FlowRun

use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote};

use super::expr::{Body, Code, Form};
use super::{GenError, Generator, rt};
use crate::check::policy::OnExhausted;
use crate::check::types::Ty;
use crate::ir::flow::{Action, Catch, Flow, For, LogLevel, Source, Stmt, StmtKind, Trigger};
use crate::ir::{self, Expr};

/// Every expression of a flow (for what the generated code must include).
pub(super) fn flow_exprs(flow: &Flow) -> Vec<&Expr> {
    fn statements<'f>(list: &'f [Stmt], out: &mut Vec<&'f Expr>) {
        for statement in list {
            match &statement.kind {
                StmtKind::Let { value, .. } => out.push(value),
                StmtKind::Assign { value, .. } => out.push(value),
                StmtKind::Call { call, .. } => out.push(call),
                StmtKind::For(each) => {
                    match &each.source {
                        Source::Stream { args, .. } => out.extend(args),
                        Source::List(expr) | Source::Json(expr) => out.push(expr),
                    }
                    out.extend(each.filter.iter());
                    out.extend(each.dedupe.iter());
                    statements(&each.body, out);
                }
                StmtKind::If { condition, then, otherwise } => {
                    out.push(condition);
                    statements(then, out);
                    statements(otherwise, out);
                }
                StmtKind::Skip => {}
                StmtKind::Fail(message) => out.push(message),
                StmtKind::Log { message, .. } => out.push(message),
            }
        }
    }
    let mut out: Vec<&Expr> = flow.states.iter().map(|state| &state.init).collect();
    statements(&flow.body, &mut out);
    out
}

/// The types a flow holds (its states, payload and loop bindings).
pub(super) fn flow_types(flow: &Flow) -> Vec<&Ty> {
    fn statements<'f>(list: &'f [Stmt], out: &mut Vec<&'f Ty>) {
        for statement in list {
            match &statement.kind {
                StmtKind::For(each) => {
                    out.push(&each.item);
                    out.extend(each.context.iter().map(|(_, _, ty)| ty));
                    statements(&each.body, out);
                }
                StmtKind::If { then, otherwise, .. } => {
                    statements(then, out);
                    statements(otherwise, out);
                }
                _ => {}
            }
        }
    }
    let mut out: Vec<&Ty> = flow.states.iter().map(|state| &state.ty).collect();
    out.extend(flow.payload.iter().map(|(_, ty)| ty));
    statements(&flow.body, &mut out);
    out
}

/// The flows of the program, each an `async fn`.
pub(super) fn flows(generator: &Generator<'_>) -> Result<TokenStream, GenError> {
    let mut items = Vec::new();
    let mut runs = Vec::new();
    for (index, flow) in generator.program.flows.iter().enumerate() {
        if generator.includes_flow(&flow.name) {
            let (item, run) = FlowGen::new(generator, flow).function(index)?;
            items.push(item);
            runs.extend(run);
        }
    }
    if runs.is_empty() {
        return Ok(quote!(#(#items)*));
    }
    Ok(quote! {
        #(#items)*

        /// The runs of the webhook flows, on an event that may no longer
        /// decode (one queued before the program changed).
        mod webhook_runs {
            use super::*;

            #(#runs)*
        }
    })
}

/// The name of the `static` `FlowInfo` of the flow at `index`.
pub(super) fn info_ident(index: usize) -> Ident {
    format_ident!("FLOW_{}", index)
}

/// Where a failure breaks to, and what its dead letter is made of.
#[derive(Clone)]
struct Site {
    /// The label of the block of the unit of work.
    label: syn::Lifetime,
    /// A `flow::Unit` value for the unit of work.
    unit: TokenStream,
}

struct FlowGen<'g, 'a> {
    generator: &'g Generator<'a>,
    flow: &'g Flow,
    body: Body<'g, 'a>,
    /// `states(&a, &b)`: the working states, encoded.
    states: TokenStream,
    temps: u32,
    records: u32,
}

impl<'g, 'a> FlowGen<'g, 'a> {
    fn new(generator: &'g Generator<'a>, flow: &'g Flow) -> FlowGen<'g, 'a> {
        let body = Body::new(generator, flow.name.clone(), flow.locals.clone());
        FlowGen { generator, flow, body, states: TokenStream::new(), temps: 0, records: 0 }
    }

    fn unsupported(&self, message: impl Into<String>) -> GenError {
        GenError::Unsupported { item: self.flow.name.clone(), message: message.into() }
    }

    fn marker(&self, ty: &Ty) -> Result<TokenStream, GenError> {
        self.generator.marker_tokens(ty).map_err(|message| self.unsupported(message))
    }

    fn temp(&mut self, name: &str) -> Ident {
        self.temps += 1;
        format_ident!("{}_{}", name, self.temps)
    }

    /// The flow's `async fn`; for a webhook flow, the public function is a
    /// wrapper of the run in `mod webhook_runs`, which also takes an event
    /// that does not decode (and dead-letters it).
    fn function(mut self, index: usize) -> Result<(TokenStream, Option<TokenStream>), GenError> {
        let rt = rt();
        let flow = self.flow;
        let name = super::ident(&flow.name);
        let flow_name = &flow.name;
        let location = flow.location.to_string();
        let batch = flow.batch;
        let trigger = match flow.trigger {
            Trigger::Every(_) => quote!(Every),
            Trigger::Cron(_) => quote!(Cron),
            Trigger::Webhook => quote!(Webhook),
            Trigger::Manual => quote!(Manual),
        };
        let finish_failed = quote!(return Ok(run.finish(Err(failed), Ok(::std::collections::BTreeMap::new()))));

        // The states: typed locals, loaded from the store or initialised.
        let mut loads = Vec::new();
        let mut state_idents = Vec::new();
        let mut state_params = Vec::new();
        let mut encodes = Vec::new();
        for (slot, state) in flow.states.iter().enumerate() {
            let rust = self.body.rust_type(&state.ty)?;
            let marker = self.marker(&state.ty)?;
            let display = self.body.display(&state.ty);
            let state_name = &state.name;
            let mut init_body = Body::new(self.generator, flow.name.clone(), Vec::new());
            let init = init_body.expr(&state.init, Some(&state.ty))?;
            let init = init_body.coerce(init, &state.ty)?;
            let init_attempt = match &init.tried {
                Some(inner) => Some(quote!(#rt::generated::flow::attempt(|| #inner))),
                None => {
                    let owned = init.owned();
                    if owned.to_string().contains('?') {
                        Some(quote!(#rt::generated::flow::attempt(|| Ok(#owned))))
                    } else {
                        None
                    }
                }
            };
            let init_value = match init_attempt {
                Some(attempt) => quote! {
                    match #attempt {
                        Ok(value) => value,
                        Err(error) => {
                            let failed = run.init_failed(#state_name, error);
                            #finish_failed;
                        }
                    }
                },
                None => init.owned(),
            };
            let ident = self.body.bind(slot as u32, &state.name, state.ty.clone(), Form::Place);
            let mutable = if assigns(&flow.body, slot as u32) { quote!(mut) } else { quote!() };
            loads.push(quote! {
                let #mutable #ident: #rust = match run.stored::<#marker>(#state_name, #display) {
                    Ok(Some(value)) => value,
                    Ok(None) => #init_value,
                    Err(failed) => #finish_failed,
                };
            });
            state_params.push(quote!(#ident: &#rust));
            encodes.push(quote! {
                states.insert(#state_name.to_owned(), #rt::generated::flow::encoded::<#marker>(#ident)?);
            });
            state_idents.push(ident);
        }
        self.states = quote!(states(#(&#state_idents),*));
        let states_fn = if flow.states.is_empty() {
            quote! {
                fn states() -> Result<::std::collections::BTreeMap<String, String>, #rt::EvalError> {
                    Ok(::std::collections::BTreeMap::new())
                }
            }
        } else {
            quote! {
                #[allow(clippy::ptr_arg)]
                fn states(#(#state_params),*) -> Result<::std::collections::BTreeMap<String, String>, #rt::EvalError> {
                    let mut states = ::std::collections::BTreeMap::new();
                    #(#encodes)*
                    Ok(states)
                }
            }
        };

        // The payload of a webhook flow: the event, decoded or not, with its delivery.
        let payload = match &flow.payload {
            Some((payload, ty)) => {
                let rust = self.body.rust_type(ty)?;
                let ident = self.body.bind(flow.states.len() as u32, payload, ty.clone(), Form::Place);
                Some((ident, rust))
            }
            None => None,
        };

        let site = Site { label: lifetime("run"), unit: quote!(#rt::generated::flow::Unit::Run) };
        let statements = self.statements(&flow.body, &site)?;
        let states = &self.states;
        let label = &site.label;
        let doc = self.generator.doc(&flow.name);
        let mut describe = format!(
            " Runs the flow `{}` ({}) once: its state is read from and saved to `host`'s store.",
            flow.name,
            flow.trigger.describe()
        );
        if let Some((payload, _)) = &flow.payload {
            describe.push_str(&format!(
                " `{payload}` is the event; `delivery` its raw body (`&[u8]`), or the queued event it came in \
                 (`webhooks()` serves the flow and runs its queued events)."
            ));
        }
        let doc = if doc.is_empty() {
            quote!(#[doc = #describe])
        } else {
            quote! {
                #doc
                #[doc = ""]
                #[doc = #describe]
            }
        };
        let info = info_ident(index);
        let info_doc = format!(" What the runtime knows of the flow `{}`.", flow.name);
        let static_info = quote! {
            #[doc = #info_doc]
            static #info: #rt::generated::flow::FlowInfo = #rt::generated::flow::FlowInfo {
                name: #flow_name,
                location: #location,
                batch: #batch,
            };
        };
        let report = quote!(Result<#rt::generated::FlowReport, #rt::store::StoreError>);
        let (payload_params, set_event, decoded) = match &payload {
            Some((ident, rust)) => (
                quote!(, payload: Result<#rust, String>, delivery: #rt::generated::Delivery),
                quote!(run.set_event(delivery);),
                quote! {
                    let #ident: #rust = match payload {
                        Ok(value) => value,
                        Err(message) => {
                            let result = run.undecodable(#location, message, #states);
                            return Ok(run.finish(result, #states));
                        }
                    };
                },
            ),
            None => (quote!(), quote!(), quote!()),
        };
        let body = quote! {
            use #rt::generated::flow::Control;
            // A flow that calls no endpoint does not read `apis`.
            let _ = apis;
            #states_fn
            let mut run = host.start(&#info, #rt::store::Trigger::#trigger)?;
            #set_event
            if let Err(failed) = run.load_states() {
                #finish_failed;
            }
            #(#loads)*
            if let Err(failed) = run.loaded(#states) {
                #finish_failed;
            }
            #decoded
            let result: Result<Control, #rt::generated::flow::Failed> = #label: {
                #(#statements)*
                Ok(Control::Next)
            };
            Ok(run.finish(result, #states))
        };
        // A unit of work is a labelled block that only some failures break out of.
        let allow = quote!(#[allow(unused_labels, clippy::nonminimal_bool, clippy::cloned_ref_to_slice_refs)]);
        let Some((ident, rust)) = &payload else {
            return Ok((
                quote! {
                    #static_info
                    #doc
                    #allow
                    pub async fn #name(apis: &Apis, host: &#rt::generated::FlowHost) -> #report {
                        #body
                    }
                },
                None,
            ));
        };
        let public = quote! {
            #static_info
            #doc
            pub async fn #name(
                apis: &Apis,
                host: &#rt::generated::FlowHost,
                #ident: #rust,
                delivery: impl Into<#rt::generated::Delivery>,
            ) -> #report {
                webhook_runs::#name(apis, host, Ok(#ident), delivery.into()).await
            }
        };
        let run = quote! {
            #allow
            pub(super) async fn #name(
                apis: &Apis,
                host: &#rt::generated::FlowHost #payload_params
            ) -> #report {
                #body
            }
        };
        Ok((public, Some(run)))
    }

    fn statements(&mut self, list: &[Stmt], site: &Site) -> Result<Vec<TokenStream>, GenError> {
        let mut out = Vec::new();
        for statement in list {
            out.push(self.statement(statement, site)?);
            // Nothing after `skip` or `fail` runs (and Rust would call it unreachable).
            if matches!(statement.kind, StmtKind::Skip | StmtKind::Fail(_)) {
                break;
            }
        }
        Ok(out)
    }

    /// `break 'unit run.evaluation_failed(...)`.
    fn evaluation_failed(&self, location: &str, site: &Site) -> TokenStream {
        let label = &site.label;
        let unit = &site.unit;
        let states = &self.states;
        quote!(break #label run.evaluation_failed(#location, error, #unit, #states))
    }

    /// The code of `expr` (coerced to `expected`), and the statements that
    /// compute it first when it can fail: a failure breaks out of the unit
    /// of work, dead-lettered.
    fn value(
        &mut self,
        expr: &Expr,
        expected: Option<&Ty>,
        location: &str,
        site: &Site,
    ) -> Result<(TokenStream, Code), GenError> {
        if let Expr::Endpoint { .. } = expr {
            return Err(self.unsupported("an endpoint call inside an expression (call it in a `let` of its own)"));
        }
        // The expression's own type first (a native's type parameters are
        // inferred from its arguments), the place's type when that says
        // too little (`[]`, `none`).
        let mut code = self.body.expr(expr, None)?;
        if let Some(ty) = expected {
            if code.ty.has_vars() || code.ty.contains_error() || code.ty == Ty::None {
                code = self.body.expr(expr, expected)?;
            }
            code = self.body.coerce(code, ty)?;
        }
        if !code.tokens.to_string().contains('?') {
            return Ok((TokenStream::new(), code));
        }
        let rt = rt();
        let attempt = match &code.tried {
            Some(inner) => quote!(#rt::generated::flow::attempt(|| #inner)),
            None => {
                let owned = code.owned();
                quote!(#rt::generated::flow::attempt(|| Ok(#owned)))
            }
        };
        let temp = self.temp("value");
        let failed = self.evaluation_failed(location, site);
        let prelude = quote! {
            let #temp = match #attempt {
                Ok(value) => value,
                Err(error) => #failed,
            };
        };
        Ok((prelude, Code { tokens: quote!(#temp), form: Form::Place, ty: code.ty, atomic: true, tried: None }))
    }

    fn statement(&mut self, statement: &Stmt, site: &Site) -> Result<TokenStream, GenError> {
        let rt = rt();
        let location = statement.location.to_string();
        let label = &site.label;
        Ok(match &statement.kind {
            StmtKind::Let { slot, value, catch } => {
                if let Expr::Endpoint { api, endpoint, args } = value {
                    let result = self.endpoint_result(*api, *endpoint)?;
                    if matches!(catch.as_ref(), Some(catch) if catch.arms.iter().any(|arm| arm.action == Action::Ignore))
                    {
                        return Err(self.unsupported("`ignore` for a call whose result is bound"));
                    }
                    if result == Ty::Unit {
                        let (prelude, call) =
                            self.call(*api, *endpoint, args, catch.as_ref(), &location, site, false)?;
                        return Ok(quote! { #prelude #call });
                    }
                    let (prelude, call) = self.call(*api, *endpoint, args, catch.as_ref(), &location, site, true)?;
                    let name = self.body.slot_name(*slot);
                    let rust = self.body.rust_type(&result)?;
                    let ident = self.body.bind(*slot, &name, result, Form::Place);
                    quote! {
                        #prelude
                        let #ident: #rust = #call;
                    }
                } else {
                    let (prelude, code) = self.value(value, None, &location, site)?;
                    let ty = code.ty.clone();
                    if ty.has_vars() || ty.contains_error() || ty == Ty::None || ty == Ty::Unit {
                        return Err(self.unsupported(format!("a `let` of type `{}`", self.body.display(&ty))));
                    }
                    let owned = code.owned();
                    let rust = self.body.rust_type(&ty)?;
                    let name = self.body.slot_name(*slot);
                    let ident = self.body.bind(*slot, &name, ty, Form::Place);
                    quote! {
                        #prelude
                        let #ident: #rust = #owned;
                    }
                }
            }
            StmtKind::Assign { state, value } => {
                let Some(ty) = self.flow.states.get(*state as usize).map(|state| state.ty.clone()) else {
                    return Err(self.unsupported(format!("an assignment of slot {state}, which is no state")));
                };
                let (prelude, code) = self.value(value, Some(&ty), &location, site)?;
                let owned = code.owned();
                let target = self.body.expr(&Expr::Local(*state), None)?.tokens;
                quote! {
                    #prelude
                    #target = #owned;
                }
            }
            StmtKind::Call { call, catch } => match call {
                Expr::Endpoint { api, endpoint, args } => {
                    let (prelude, call) = self.call(*api, *endpoint, args, catch.as_ref(), &location, site, false)?;
                    quote! { #prelude #call }
                }
                other => {
                    let (prelude, code) = self.value(other, None, &location, site)?;
                    let tokens = code.tokens;
                    quote! { #prelude let _ = #tokens; }
                }
            },
            StmtKind::If { condition, then, otherwise } => {
                let (prelude, code) = self.value(condition, Some(&Ty::Bool), &location, site)?;
                let condition = code.owned();
                let then = self.statements(then, site)?;
                let otherwise = self.statements(otherwise, site)?;
                if otherwise.is_empty() {
                    quote! { #prelude if #condition { #(#then)* } }
                } else {
                    quote! { #prelude if #condition { #(#then)* } else { #(#otherwise)* } }
                }
            }
            StmtKind::Skip => quote!(break #label Ok(Control::Skip);),
            StmtKind::Fail(message) => {
                let (prelude, code) = self.value(message, None, &location, site)?;
                let text = text_of(&code);
                quote! {
                    #prelude
                    break #label Err(run.fail(#location, #text));
                }
            }
            StmtKind::Log { level, message, .. } => {
                let (prelude, code) = self.value(message, None, &location, site)?;
                let text = text_of(&code);
                let level = match level {
                    LogLevel::Debug => quote!(Debug),
                    LogLevel::Info => quote!(Info),
                    LogLevel::Warn => quote!(Warn),
                    LogLevel::Error => quote!(Error),
                };
                quote! {
                    #prelude
                    run.log(#rt::generated::flow::LogLevel::#level, #text);
                }
            }
            StmtKind::For(each) => self.for_loop(each, &location, site)?,
        })
    }

    /// The result type of an endpoint's call (`Unit` for none).
    fn endpoint_result(&self, api: u32, endpoint: u32) -> Result<Ty, GenError> {
        let endpoint = self.endpoint(api, endpoint)?;
        Ok(match &endpoint.result {
            ir::api::Result::Unit => Ty::Unit,
            ir::api::Result::Single { ty, .. } => ty.clone(),
            ir::api::Result::Stream { .. } => return Err(self.unsupported("a stream read outside a `for`")),
        })
    }

    fn endpoint(&self, api: u32, endpoint: u32) -> Result<&'g ir::api::Endpoint, GenError> {
        self.generator
            .program
            .apis
            .get(api as usize)
            .and_then(|found| found.endpoints.get(endpoint as usize))
            .ok_or_else(|| self.unsupported(format!("an unknown endpoint ({api}, {endpoint})")))
    }

    /// `apis.shop.list_orders(&a, Some(&b))` (without `.await`), with the
    /// statements computing its arguments.
    fn call_expr(
        &mut self,
        api: u32,
        endpoint: u32,
        args: &[Expr],
        location: &str,
        site: &Site,
    ) -> Result<(TokenStream, TokenStream), GenError> {
        let definition = self.endpoint(api, endpoint)?;
        let Some(api_definition) = self.generator.program.apis.get(api as usize) else {
            return Err(self.unsupported("an unknown api"));
        };
        let field = format_ident!("{}", super::client::snake(&api_definition.name));
        let method = super::ident(&definition.name);
        let mut prelude = TokenStream::new();
        let mut values = Vec::new();
        for (position, arg) in args.iter().enumerate() {
            let Some((_, ty)) = definition.params.get(position) else {
                return Err(self.unsupported(format!("too many arguments for `{}`", definition.name)));
            };
            let (before, code) = self.value(arg, Some(ty), location, site)?;
            prelude.extend(before);
            let value = match ty {
                Ty::List(_) => code.slice(),
                _ => code.borrow(),
            };
            let defaulted = definition.defaults.get(position).is_some_and(Option::is_some);
            values.push(if defaulted { quote!(Some(#value)) } else { value });
        }
        Ok((prelude, quote!(apis.#field.#method(#(#values),*))))
    }

    /// A call statement: its value (`used`), or nothing, and the statements
    /// before it; a failure breaks out of the unit of work with what its
    /// `catch`, else `on_exhausted`, does (`ignore` goes on, for a call
    /// whose value is not used).
    #[allow(clippy::too_many_arguments)]
    fn call(
        &mut self,
        api: u32,
        endpoint: u32,
        args: &[Expr],
        catch: Option<&Catch>,
        location: &str,
        site: &Site,
        used: bool,
    ) -> Result<(TokenStream, TokenStream), GenError> {
        let (prelude, call) = self.call_expr(api, endpoint, args, location, site)?;
        let failed = self.call_failed(api, endpoint, catch, location, site)?;
        let writes = self.writes(api, endpoint)?;
        let counted = if writes.is_empty() { TokenStream::new() } else { quote!(run.count_failed_write(&failure);) };
        let label = &site.label;
        let value = if used {
            quote! {
                match #call.await {
                    Ok(value) => {
                        #writes
                        value
                    }
                    Err(failure) => {
                        #counted
                        break #label #failed;
                    }
                }
            }
        } else {
            quote! {
                match #call.await {
                    Ok(_) => {
                        #writes
                    }
                    Err(failure) => {
                        #counted
                        match #failed {
                            Ok(Control::Next) => {}
                            other => break #label other,
                        }
                    }
                }
            }
        };
        Ok((prelude, value))
    }

    /// `run.count_written();` after a successful call of an endpoint whose
    /// method writes, as the interpreter counts them.
    fn writes(&self, api: u32, endpoint: u32) -> Result<TokenStream, GenError> {
        let definition = self.endpoint(api, endpoint)?;
        Ok(if matches!(definition.method.as_str(), "POST" | "PUT" | "PATCH" | "DELETE") {
            quote!(run.count_written();)
        } else {
            TokenStream::new()
        })
    }

    /// `run.call_failed(...)` for a failure of `Api.endpoint`.
    fn call_failed(
        &self,
        api: u32,
        endpoint: u32,
        catch: Option<&Catch>,
        location: &str,
        site: &Site,
    ) -> Result<TokenStream, GenError> {
        let rt = rt();
        let program = self.generator.program;
        let Some(api_definition) = program.apis.get(api as usize) else {
            return Err(self.unsupported("an unknown api"));
        };
        let definition = self.endpoint(api, endpoint)?;
        let (api_name, endpoint_name) = (&api_definition.name, &definition.name);
        let arms: Vec<TokenStream> = catch
            .map(|catch| catch.arms.as_slice())
            .unwrap_or_default()
            .iter()
            .map(|arm| {
                let error = match &arm.error {
                    Some(name) => quote!(Some(#name)),
                    None => quote!(None),
                };
                let action = action(arm.action);
                quote!((#error, #rt::generated::flow::Action::#action))
            })
            .collect();
        let policy =
            definition.policy.or(Some(api_definition.policy)).and_then(|index| program.policies.get(index as usize));
        let on_exhausted = match policy.map(|policy| policy.on_exhausted) {
            Some(OnExhausted::Skip) => quote!(Skip),
            Some(OnExhausted::Fail) => quote!(Fail),
            Some(OnExhausted::DeadLetter) | None => quote!(DeadLetter),
        };
        let unit = &site.unit;
        let states = &self.states;
        Ok(quote! {
            run.call_failed(
                #location,
                failure,
                &[#(#arms),*],
                #rt::generated::flow::Action::#on_exhausted,
                (#api_name, #endpoint_name),
                #unit,
                #states,
            )
        })
    }

    fn for_loop(&mut self, each: &For, location: &str, site: &Site) -> Result<TokenStream, GenError> {
        let rt = rt();
        let label = &site.label;
        let loop_location = each.location.to_string();
        let mut prelude = TokenStream::new();
        // What the loop iterates: pages of a stream, or a list's elements.
        let (source, next, streamed) = match &each.source {
            Source::Stream { api, endpoint, args } => {
                let (before, call) = self.call_expr(*api, *endpoint, args, location, site)?;
                prelude.extend(before);
                let failed = self.call_failed(*api, *endpoint, None, location, site)?;
                let pages = self.temp("pages");
                let source = quote! {
                    let mut #pages = match #call {
                        Ok(pages) => pages,
                        Err(failure) => break #label #failed,
                    };
                };
                let next = quote! {
                    match #pages.next_record().await {
                        None => break,
                        Some(Ok(record)) => record,
                        Some(Err(error)) => {
                            let failure = #rt::generated::CallFailure::Call(error);
                            break #label #failed;
                        }
                    }
                };
                (source, next, true)
            }
            Source::List(expr) => {
                let (before, code) = self.value(expr, None, location, site)?;
                prelude.extend(before);
                let elements = match &code.ty {
                    Ty::Optional(_) => {
                        let owned = code.owned();
                        quote!(#owned.unwrap_or_default())
                    }
                    _ => code.owned(),
                };
                let items = self.temp("items");
                let source = quote!(let mut #items = #elements.into_iter(););
                let next = quote! {
                    match #items.next() {
                        None => break,
                        Some(element) => element,
                    }
                };
                (source, next, false)
            }
            Source::Json(expr) => {
                let (before, code) = self.value(expr, Some(&Ty::Json), location, site)?;
                prelude.extend(before);
                let owned = code.owned();
                let items = self.temp("items");
                let failed = self.evaluation_failed(location, site);
                let source = quote! {
                    let mut #items = match #rt::generated::flow::json_elements(#owned) {
                        Ok(elements) => elements.into_iter(),
                        Err(error) => #failed,
                    };
                };
                let next = quote! {
                    match #items.next() {
                        None => break,
                        Some(element) => element,
                    }
                };
                (source, next, false)
            }
        };

        // One record: the unit of work.
        self.records += 1;
        let record_label = lifetime(&format!("record_{}", self.records));
        let body_label = lifetime(&format!("body_{}", self.records));
        let binding = self.body.bind(each.slot, &each.binding, each.item.clone(), Form::Place);
        let item_marker = self.marker(&each.item)?;
        let loop_id = &each.id;
        let mut context = Vec::new();
        for (name, slot, ty) in &each.context {
            let marker = self.marker(ty)?;
            let code = self.body.expr(&Expr::Local(*slot), None)?;
            let borrowed = code.borrow();
            context.push(quote!((#name, #rt::generated::flow::json_text::<#marker>(#borrowed))));
        }
        let unit = quote! {
            #rt::generated::flow::Unit::Record {
                loop_id: #loop_id,
                input: #rt::generated::flow::json_text::<#item_marker>(&#binding),
                context: #rt::generated::flow::context(&[#(#context),*]),
            }
        };
        let record_site = Site { label: record_label.clone(), unit: unit.clone() };
        let body_site = Site { label: body_label.clone(), unit };

        let mut checks = TokenStream::new();
        if let Some(filter) = &each.filter {
            let (before, code) = self.value(filter, Some(&Ty::Bool), &loop_location, &record_site)?;
            let condition = code.paren();
            checks.extend(quote! {
                #before
                if !#condition {
                    break #record_label Ok(Control::Skip);
                }
            });
        }
        let mut pass = TokenStream::new();
        if let Some(dedupe) = &each.dedupe {
            let (before, code) = self.value(dedupe, None, &loop_location, &record_site)?;
            let key = match &code.ty {
                Ty::Json => {
                    let borrowed = code.borrow();
                    quote!(#rt::generated::flow::dedupe_json_key(#borrowed))
                }
                _ => {
                    let borrowed = code.borrow();
                    quote!(#rt::generated::flow::dedupe_key(#borrowed))
                }
            };
            let failed = self.evaluation_failed(&loop_location, &record_site);
            checks.extend(quote! {
                #before
                let key = #key;
                let hash = match #rt::generated::flow::content_hash::<#item_marker>(&#binding) {
                    Ok(hash) => hash,
                    Err(error) => #failed,
                };
                match run.is_duplicate(#loop_id, &key, &hash) {
                    Ok(true) => break #record_label Ok(Control::Skip),
                    Ok(false) => {}
                    Err(failed) => break #record_label Err(failed),
                }
            });
            pass = quote! {
                if matches!(control, Ok(Control::Next | Control::Skip)) {
                    run.passed(#loop_id, key, hash);
                }
            };
        }
        let body = self.statements(&each.body, &body_site)?;
        let stop = if each.top_level {
            quote! {
                if run.stopping() {
                    break #label Ok(Control::Stop);
                }
            }
        } else {
            TokenStream::new()
        };
        let read = if streamed { quote!(run.count_read();) } else { TokenStream::new() };
        let skipped = if streamed { quote!(run.count_skipped();) } else { TokenStream::new() };
        let states = &self.states;
        let commit = if each.top_level {
            quote! {
                if let Err(failed) = run.commit(#states) {
                    break #label Err(failed);
                }
            }
        } else {
            TokenStream::new()
        };
        Ok(quote! {
            #prelude
            #source
            loop {
                #stop
                let #binding = #next;
                #read
                let control: Result<Control, #rt::generated::flow::Failed> = #record_label: {
                    #checks
                    let control: Result<Control, #rt::generated::flow::Failed> = #body_label: {
                        #(#body)*
                        Ok(Control::Next)
                    };
                    #pass
                    control
                };
                match control {
                    Ok(Control::Stop) => break #label Ok(Control::Stop),
                    Ok(Control::Skip) => { #skipped }
                    Ok(_) => {}
                    Err(failed) => break #label Err(failed),
                }
                #commit
            }
        })
    }
}

/// `&str` of a value's text form.
fn text_of(code: &Code) -> TokenStream {
    let rt = rt();
    match code.ty {
        Ty::String => code.as_str(),
        _ => {
            let borrowed = code.borrow();
            quote!(&#rt::generated::text(#borrowed))
        }
    }
}

fn action(action: Action) -> TokenStream {
    match action {
        Action::Skip => quote!(Skip),
        Action::DeadLetter => quote!(DeadLetter),
        Action::Fail => quote!(Fail),
        Action::Ignore => quote!(Ignore),
    }
}

fn lifetime(name: &str) -> syn::Lifetime {
    syn::Lifetime::new(&format!("'{name}"), Span::call_site())
}

/// Whether a statement of `list` assigns state `slot`.
fn assigns(list: &[Stmt], slot: u32) -> bool {
    list.iter().any(|statement| match &statement.kind {
        StmtKind::Assign { state, .. } => *state == slot,
        StmtKind::For(each) => assigns(&each.body, slot),
        StmtKind::If { then, otherwise, .. } => assigns(then, slot) || assigns(otherwise, slot),
        _ => false,
    })
}
