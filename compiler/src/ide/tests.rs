use super::*;
use crate::check_source;

const SHOP: &str = r#"/// A buyer's order.
type Order {
  id: Int
  /// Where it goes.
  email: String?
  status: Status
}

enum Status { paid, refunded }

type Contact { external_id: String, email: String }

api Shop {
  base_url: "https://shop.invalid"
  /// Every order.
  endpoint list_orders(since: DateTime?) -> stream Order { GET "/orders" }
}

map to_contact(o: Order) -> Contact {
  external_id: "shop-{o.id}"
  email: o.email ?? "none"
}

flow sync {
  trigger: every 5m
  for order in Shop.list_orders(since: none) {
    let contact = to_contact(order)
    if order.status == Status.paid {
      log "paid {contact.email}"
    }
  }
}
"#;

fn at(text: &str, needle: &str, nth: usize) -> usize {
    text.match_indices(needle).nth(nth).map(|(index, _)| index).unwrap_or(usize::MAX)
}

fn texts<'t>(text: &'t str, spans: &[Span]) -> Vec<(usize, &'t str)> {
    spans.iter().map(|span| (span.start as usize, &text[span.range()])).collect()
}

#[test]
fn the_program_checks() {
    let analysis = check_source("main.integ", SHOP);
    let errors: Vec<String> = analysis
        .diagnostics()
        .iter()
        .filter(|d| d.is_error())
        .map(|d| format!("{} {}", d.code.as_str(), d.message))
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
}

#[test]
fn definitions_of_every_kind_of_name() {
    let analysis = check_source("main.integ", SHOP);
    let file = analysis.program.root;
    let cases = [
        (at(SHOP, "Order)", 0), at(SHOP, "Order {", 0)),
        (at(SHOP, "o.id", 0), at(SHOP, "o: Order", 0)),
        (at(SHOP, "id}", 0), at(SHOP, "id: Int", 0)),
        (at(SHOP, "email: o.email", 0) + 9, at(SHOP, "email: String?", 0)),
        (at(SHOP, "list_orders(since: none", 0), at(SHOP, "list_orders(since: DateTime", 0)),
        (at(SHOP, "Status.paid", 0) + 7, at(SHOP, "paid,", 0)),
        (at(SHOP, "to_contact(order)", 0), at(SHOP, "to_contact(o", 0)),
        (at(SHOP, "order)", 0), at(SHOP, "order in", 0)),
        (at(SHOP, "contact.email", 0) + 8, at(SHOP, "email: String }", 0)),
        (at(SHOP, "external_id: \"", 0), at(SHOP, "external_id: String", 0)),
    ];
    for (from, to) in cases {
        let found = definition(&analysis, file, from).map(|span| span.start as usize);
        assert_eq!(found, Some(to), "definition of the name at {from}: {:?}", &SHOP[from..from + 12]);
    }
    assert_eq!(definition(&analysis, file, at(SHOP, "every", 0)), None);
}

#[test]
fn references_and_rename_of_a_field() {
    let analysis = check_source("main.integ", SHOP);
    let file = analysis.program.root;
    let found = references(&analysis, file, at(SHOP, "status: Status", 0), true);
    assert_eq!(texts(SHOP, &found), [(at(SHOP, "status: Status", 0), "status"), (at(SHOP, "status ==", 0), "status")]);
    let edits = rename(&analysis, file, at(SHOP, "status ==", 0), "financial").unwrap();
    let spans: Vec<Span> = edits.iter().map(|(span, _)| *span).collect();
    assert_eq!(spans, found);
    assert!(edits.iter().all(|(_, replacement)| replacement == "financial"));
}

#[test]
fn references_of_a_local_and_a_declaration() {
    let analysis = check_source("main.integ", SHOP);
    let file = analysis.program.root;
    let found = references(&analysis, file, at(SHOP, "order in", 0), false);
    assert_eq!(texts(SHOP, &found), [(at(SHOP, "order)", 0), "order"), (at(SHOP, "order.status", 0), "order")]);
    let found = references(&analysis, file, at(SHOP, "Order {", 0), true);
    assert_eq!(found.len(), 3, "{:?}", texts(SHOP, &found));
}

#[test]
fn rename_refuses_bad_names_and_the_standard_library() {
    let text = "fn shout(s: String) -> String = upper(s)\n";
    let analysis = check_source("main.integ", text);
    let file = analysis.program.root;
    let on_s = at(text, "s)", 0);
    assert_eq!(rename(&analysis, file, on_s, "let"), Err(RenameError::Keyword("let".into())));
    assert_eq!(rename(&analysis, file, on_s, "1x"), Err(RenameError::InvalidName("1x".into())));
    assert_eq!(rename(&analysis, file, at(text, "upper", 0), "loud"), Err(RenameError::Std("upper".into())));
    assert_eq!(prepare_rename(&analysis, file, at(text, "->", 0)), Err(RenameError::NoName));
    let edits = rename(&analysis, file, on_s, "text").unwrap();
    assert_eq!(edits.len(), 2);
}

#[test]
fn hovers_show_signatures_types_docs_and_explanations() {
    let analysis = check_source("main.integ", SHOP);
    let file = analysis.program.root;
    let hover_at = |offset: usize| hover(&analysis, file, offset).map(|hover| hover.markdown).unwrap_or_default();
    let field = hover_at(at(SHOP, "email ??", 0));
    assert!(field.contains("Order.email: String?") && field.contains("Where it goes."), "{field}");
    let endpoint = hover_at(at(SHOP, "list_orders(since: none", 0));
    assert!(endpoint.contains("endpoint list_orders(since: DateTime?) -> stream Order"), "{endpoint}");
    assert!(endpoint.contains("Every order."), "{endpoint}");
    let local = hover_at(at(SHOP, "contact.email", 0));
    assert!(local.contains("contact: Contact"), "{local}");
    let record = hover_at(at(SHOP, "Order)", 0));
    assert!(record.contains("type Order {") && record.contains("A buyer's order."), "{record}");
    let std = hover_at(at(SHOP, "every", 0));
    assert!(std.is_empty() || !std.contains("panic"));
    let broken = "fn f(x: Int) -> String = x\n";
    let analysis = check_source("main.integ", broken);
    let text = hover(&analysis, analysis.program.root, at(broken, "= x", 0) + 2)
        .map(|hover| hover.markdown)
        .unwrap_or_default();
    assert!(text.contains("x: Int") && text.contains("**E0300**"), "{text}");
}

fn labels(items: &[Completion]) -> Vec<&str> {
    items.iter().map(|item| item.label.as_str()).collect()
}

fn complete_at(text: &str, offset: usize) -> Vec<Completion> {
    let analysis = check_source("main.integ", text);
    complete(Some(&analysis), text, offset, &mut |patched| Some(check_source("main.integ", patched)))
}

#[test]
fn completes_fields_in_a_broken_file() {
    let text = SHOP.replace("email: o.email ?? \"none\"", "email: o.");
    let offset = at(&text, "o.\n", 0) + 2;
    let items = complete_at(&text, offset);
    let names = labels(&items);
    assert!(names.contains(&"id") && names.contains(&"email") && names.contains(&"status"), "{names:?}");
    let text = SHOP.replace("email: o.email ?? \"none\"", "email: o.em");
    let items = complete_at(&text, at(&text, "o.em", 0) + 4);
    assert_eq!(labels(&items).first(), Some(&"email"), "{:?}", labels(&items));
}

#[test]
fn completes_endpoints_variants_settings_and_schemes() {
    let text = SHOP.replace("Shop.list_orders(since: none)", "Shop.");
    let items = complete_at(&text, at(&text, "Shop.", 0) + 5);
    assert_eq!(labels(&items), ["list_orders"]);
    assert_eq!(items[0].detail.as_deref(), Some("endpoint list_orders(since: DateTime?) -> stream Order"));
    let items = complete_at(SHOP, at(SHOP, "Status.paid", 0) + 7);
    assert_eq!(labels(&items), ["paid", "refunded"]);
    let text = "policy p {\n  ret\n}\n";
    assert_eq!(labels(&complete_at(text, at(text, "ret", 0) + 3)), ["rate_limit", "retry", "retry_after", "retry_on"]);
    let text = "api A {\n  auth: \n}\n";
    let names = labels(&complete_at(text, at(text, "auth: ", 0) + 6)).join(" ");
    assert!(names.contains("bearer") && names.contains("oauth2_client_credentials"), "{names}");
    let text = "ty";
    assert_eq!(labels(&complete_at(text, 2)), ["type"]);
}

#[test]
fn completes_functions_with_signatures_and_locals() {
    let text = "fn f(count: Int) -> String = up\n";
    let items = complete_at(text, text.len() - 1);
    let upper = items.iter().find(|item| item.label == "upper").expect("upper is offered");
    assert_eq!(upper.detail.as_deref(), Some("native fn upper(s: String) -> String"));
    let text = "fn f(count: Int) -> String = string(co)\n";
    let items = complete_at(text, at(text, "co)", 0) + 2);
    assert!(labels(&items).contains(&"count"), "{:?}", labels(&items));
    assert!(complete_at("// a comment ty", 15).is_empty());
}

#[test]
fn symbols_of_a_file() {
    let analysis = check_source("main.integ", SHOP);
    let symbols = document_symbols(&analysis, analysis.program.root);
    let names: Vec<&str> = symbols.iter().map(|symbol| symbol.name.as_str()).collect();
    assert_eq!(names, ["Order", "Status", "Contact", "Shop", "to_contact", "sync"]);
    assert_eq!(symbols[0].children.len(), 3);
    assert_eq!(symbols[3].children[0].name, "list_orders");
    let found = workspace_symbols(&analysis, "lstord");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].1.as_deref(), Some("Shop"));
}

#[test]
fn queries_never_panic_at_any_offset() {
    let broken = format!("{SHOP}\nmap m(o: Order) -> Contact {{ external_id: o. }}\nflow f {{ let x = ");
    for text in [SHOP, broken.as_str(), "", "é\u{1F600}"] {
        let analysis = check_source("main.integ", text);
        let file = analysis.program.root;
        for offset in 0..=text.len() + 1 {
            let _ = definition(&analysis, file, offset);
            let _ = references(&analysis, file, offset, true);
            let _ = hover(&analysis, file, offset);
            let _ = prepare_rename(&analysis, file, offset);
            if offset % 7 == 0 {
                let _ =
                    complete(Some(&analysis), text, offset, &mut |patched| Some(check_source("main.integ", patched)));
            }
        }
    }
}
