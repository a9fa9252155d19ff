use integ_compiler::diagnostic::render::render;
use integ_compiler::source::*;
fn main() {
    let path = std::env::args().nth(1).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let mut map = SourceMap::new();
    let id = map.add(SourceFile::new(path.clone(), text.clone(), Origin::User));
    let (module, diags) = integ_compiler::syntax::parse(id, &text);
    if std::env::args().nth(2).is_some() {
        println!("{:#?}", module);
    }
    println!("{} decls", module.decls.len());
    print!("{}", render(&map, &diags, false));
}
