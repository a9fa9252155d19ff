//! `integ lsp`: the language server, over standard input and output.
//!
//! In: JSON-RPC messages from an editor (lsp-server does the framing). Out:
//! diagnostics published after every change, and answers to requests. The
//! compiler answers the questions ([`integ_compiler::ide`]); this module
//! keeps the open documents, analyses each as a root with open buffers
//! shadowing the disk (a [`Loader`] over both), and converts between byte
//! offsets and the protocol's UTF-16 positions ([`convert`]).
//!
//! One thread handles everything in order. Before analysing, it applies
//! every document change already waiting, so it never publishes diagnostics
//! for a version older than one it has received. Each request runs under
//! `catch_unwind` as a last resort: a bug answers with an error rather than
//! ending the session.

mod convert;
mod handlers;

use std::collections::{BTreeMap, HashMap};
use std::process::ExitCode;

use integ_compiler::Analysis;
use integ_compiler::diagnostic::Diagnostic;
use integ_compiler::program::{LoadError, Loader, normalize, read_source};
use lsp_server::{Connection, ErrorCode, Message, Notification, Request, RequestId, Response};
use lsp_types::notification::{
    DidChangeTextDocument, DidCloseTextDocument, DidOpenTextDocument, DidSaveTextDocument, Notification as _,
    PublishDiagnostics,
};
use lsp_types::{
    CodeActionKind, CodeActionOptions, CodeActionProviderCapability, CompletionOptions, HoverProviderCapability, OneOf,
    PublishDiagnosticsParams, RenameOptions, ServerCapabilities, ServerInfo, TextDocumentSyncCapability,
    TextDocumentSyncKind, Uri,
};

/// Runs the server until the editor sends `exit` or closes the stream.
pub fn run() -> ExitCode {
    let (connection, io_threads) = Connection::stdio();
    let result = serve(&connection);
    drop(connection);
    let joined = io_threads.join();
    match (result, joined) {
        (Ok(()), Ok(())) => ExitCode::SUCCESS,
        (Err(message), _) => {
            eprintln!("error: integ lsp: {message}");
            ExitCode::from(2)
        }
        (_, Err(error)) => {
            eprintln!("error: integ lsp: {error}");
            ExitCode::from(2)
        }
    }
}

fn capabilities() -> ServerCapabilities {
    ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Kind(TextDocumentSyncKind::FULL)),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        definition_provider: Some(OneOf::Left(true)),
        references_provider: Some(OneOf::Left(true)),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some(vec![".".to_owned()]),
            ..CompletionOptions::default()
        }),
        document_formatting_provider: Some(OneOf::Left(true)),
        document_symbol_provider: Some(OneOf::Left(true)),
        workspace_symbol_provider: Some(OneOf::Left(true)),
        rename_provider: Some(OneOf::Right(RenameOptions {
            prepare_provider: Some(true),
            work_done_progress_options: Default::default(),
        })),
        code_action_provider: Some(CodeActionProviderCapability::Options(CodeActionOptions {
            code_action_kinds: Some(vec![CodeActionKind::QUICKFIX]),
            ..CodeActionOptions::default()
        })),
        ..ServerCapabilities::default()
    }
}

fn serve(connection: &Connection) -> Result<(), String> {
    let initialize = serde_json::json!({
        "capabilities": capabilities(),
        "serverInfo": ServerInfo { name: "integ".to_owned(), version: Some(integ_compiler::VERSION.to_owned()) },
    });
    let (id, _params) = connection.initialize_start().map_err(|error| error.to_string())?;
    connection.initialize_finish(id, initialize).map_err(|error| error.to_string())?;
    let mut server = Server::default();
    while let Ok(message) = connection.receiver.recv() {
        let mut requests = Vec::new();
        match message {
            Message::Request(request) => {
                if connection.handle_shutdown(&request).map_err(|error| error.to_string())? {
                    return Ok(());
                }
                requests.push(request);
            }
            Message::Notification(notification) => {
                if notification.method == lsp_types::notification::Exit::METHOD {
                    return Ok(());
                }
                server.notification(notification);
            }
            Message::Response(_) => {}
        }
        // Apply every change already waiting before analysing: stale versions are never published.
        while let Ok(next) = connection.receiver.try_recv() {
            match next {
                Message::Notification(notification) => {
                    if notification.method == lsp_types::notification::Exit::METHOD {
                        return Ok(());
                    }
                    server.notification(notification);
                }
                Message::Request(request) => {
                    if connection.handle_shutdown(&request).map_err(|error| error.to_string())? {
                        return Ok(());
                    }
                    requests.push(request);
                }
                Message::Response(_) => {}
            }
        }
        if server.dirty {
            server.dirty = false;
            for notification in server.analyze_all() {
                send(connection, Message::Notification(notification))?;
            }
        }
        for request in requests {
            let response = server.request(request);
            send(connection, Message::Response(response))?;
        }
    }
    Ok(())
}

fn send(connection: &Connection, message: Message) -> Result<(), String> {
    connection.sender.send(message).map_err(|error| error.to_string())
}

/// An open document.
struct Document {
    uri: Uri,
    version: i32,
    text: String,
}

/// The open documents and the latest analysis of each.
#[derive(Default)]
struct Server {
    /// By file name (the compiler's name for the file: see [`convert::uri_to_path`]).
    documents: BTreeMap<String, Document>,
    analyses: HashMap<String, Analysis>,
    /// Documents that were open at the last analysis: a closed one gets its diagnostics cleared.
    published: Vec<Uri>,
    dirty: bool,
}

/// Reads open documents from memory and everything else from disk.
struct OverlayLoader<'s> {
    documents: &'s BTreeMap<String, Document>,
}

impl Loader for OverlayLoader<'_> {
    fn read(&mut self, path: &str) -> Result<String, LoadError> {
        match self.documents.get(&normalize(path)) {
            Some(document) => Ok(document.text.clone()),
            None => read_source(std::path::Path::new(path)),
        }
    }
}

impl Server {
    fn notification(&mut self, notification: Notification) {
        match notification.method.as_str() {
            DidOpenTextDocument::METHOD => {
                if let Ok(params) = serde_json::from_value::<lsp_types::DidOpenTextDocumentParams>(notification.params)
                {
                    let document = params.text_document;
                    let path = convert::uri_to_path(&document.uri);
                    self.documents
                        .insert(path, Document { uri: document.uri, version: document.version, text: document.text });
                    self.dirty = true;
                }
            }
            DidChangeTextDocument::METHOD => {
                if let Ok(params) =
                    serde_json::from_value::<lsp_types::DidChangeTextDocumentParams>(notification.params)
                {
                    let path = convert::uri_to_path(&params.text_document.uri);
                    if let Some(document) = self.documents.get_mut(&path) {
                        // Full sync: the last change holds the whole text.
                        if let Some(change) = params.content_changes.into_iter().last() {
                            document.text = change.text;
                            document.version = params.text_document.version;
                            self.dirty = true;
                        }
                    }
                }
            }
            DidCloseTextDocument::METHOD => {
                if let Ok(params) = serde_json::from_value::<lsp_types::DidCloseTextDocumentParams>(notification.params)
                {
                    let path = convert::uri_to_path(&params.text_document.uri);
                    self.documents.remove(&path);
                    self.analyses.remove(&path);
                    self.dirty = true;
                }
            }
            // A save changes what files that import it read from disk (when it is not open).
            DidSaveTextDocument::METHOD => self.dirty = true,
            _ => {}
        }
    }

    /// Analyses `text` as the file `path`, with the open documents shadowing the disk.
    fn analyze(&self, path: &str, text: &str) -> Analysis {
        let mut loader = OverlayLoader { documents: &self.documents };
        let program = integ_compiler::program::load_text(path, text, &mut loader);
        let checked = integ_compiler::check::check(&program);
        Analysis { program, checked }
    }

    /// Analyses every open document (an edit may change what its importers see)
    /// and returns the diagnostics to publish.
    fn analyze_all(&mut self) -> Vec<Notification> {
        let mut notifications = Vec::new();
        let mut open = Vec::new();
        let paths: Vec<String> = self.documents.keys().cloned().collect();
        for path in paths {
            let Some(document) = self.documents.get(&path) else { continue };
            let analysis = self.analyze(&path, &document.text);
            let root = analysis.program.root;
            let diagnostics: Vec<lsp_types::Diagnostic> = analysis
                .diagnostics()
                .iter()
                .filter(|diagnostic| diagnostic.primary_span().file == root)
                .filter_map(|diagnostic| convert::diagnostic(analysis.sources(), diagnostic))
                .collect();
            notifications.push(publish(document.uri.clone(), diagnostics, Some(document.version)));
            open.push(document.uri.clone());
            self.analyses.insert(path, analysis);
        }
        for uri in std::mem::take(&mut self.published) {
            if !open.contains(&uri) {
                notifications.push(publish(uri, Vec::new(), None));
            }
        }
        self.published = open;
        notifications
    }

    fn request(&mut self, request: Request) -> Response {
        let id = request.id.clone();
        let method = request.method.clone();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handlers::handle(self, request)));
        match outcome {
            Ok(Ok(value)) => Response::new_ok(id, value),
            Ok(Err((code, message))) => Response::new_err(id, code as i32, message),
            Err(_) => internal_error(id, &method),
        }
    }

    /// The document and its latest analysis.
    fn document(&self, uri: &Uri) -> Option<(&Document, &Analysis)> {
        let path = convert::uri_to_path(uri);
        Some((self.documents.get(&path)?, self.analyses.get(&path)?))
    }

    /// Every diagnostic of a document's latest analysis in that document.
    fn diagnostics_of<'s>(&'s self, analysis: &'s Analysis) -> impl Iterator<Item = &'s Diagnostic> {
        let root = analysis.program.root;
        analysis.diagnostics().iter().filter(move |diagnostic| diagnostic.primary_span().file == root)
    }
}

fn internal_error(id: RequestId, method: &str) -> Response {
    Response::new_err(id, ErrorCode::InternalError as i32, format!("integ lsp failed to answer `{method}`"))
}

fn publish(uri: Uri, diagnostics: Vec<lsp_types::Diagnostic>, version: Option<i32>) -> Notification {
    Notification::new(PublishDiagnostics::METHOD.to_owned(), PublishDiagnosticsParams { uri, diagnostics, version })
}
