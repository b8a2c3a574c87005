//! Attribute macros for goro: `#[goro::main]` and `#[goro::test]` run a function's body as
//! the main goroutine of the default runtime, through `goro::run`.
//!
//! Both keep the function's signature (including a `-> Result<..>` return type) and wrap
//! its body as `::goro::run(move || -> R { body })`, so `?` works inside it and a panic is
//! re-raised on the calling thread, as `#[test]` expects.

use proc_macro::{Delimiter, Group, Ident, Punct, Spacing, Span, TokenStream, TokenTree};

/// Runs `main`'s body as a goroutine on the default runtime (`goro::run`).
///
/// ```
/// #[goro::main]
/// fn main() {
///     let h = goro::go(|| 40 + 2);
///     assert_eq!(h.join().unwrap(), 42);
/// }
/// ```
///
/// A `main` returning `Result` works too:
///
/// ```
/// #[goro::main]
/// fn main() -> Result<(), std::num::ParseIntError> {
///     let n: i32 = "42".parse()?;
///     assert_eq!(n, 42);
///     Ok(())
/// }
/// ```
#[proc_macro_attribute]
pub fn main(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(attr, item, false)
}

/// Runs a test's body as a goroutine on the default runtime, inside `#[test]`.
///
/// ```
/// #[goro::test]
/// fn sends_and_receives() {
///     let ch = goro::chan::<u8>(1);
///     ch.send(7).unwrap();
///     assert_eq!(ch.recv(), Some(7));
/// }
/// # fn main() {}
/// ```
#[proc_macro_attribute]
pub fn test(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(attr, item, true)
}

fn expand(attr: TokenStream, item: TokenStream, is_test: bool) -> TokenStream {
    if !attr.is_empty() {
        return error(
            "goro's #[main] and #[test] take no arguments",
            Span::call_site(),
        );
    }
    let mut tokens: Vec<TokenTree> = item.into_iter().collect();
    let Some(TokenTree::Group(body)) = tokens.pop() else {
        return error("expected a function with a body", Span::call_site());
    };
    if body.delimiter() != Delimiter::Brace {
        return error("expected a function with a body", body.span());
    }
    if tokens
        .iter()
        .any(|t| matches!(t, TokenTree::Ident(i) if i.to_string() == "async"))
    {
        return error(
            "goro runs plain functions as goroutines: remove `async`",
            Span::call_site(),
        );
    }
    let ret = return_type(&tokens);
    let mut call: Vec<TokenTree> = Vec::new();
    call.extend(path(&["goro", "run"]));
    let mut closure: Vec<TokenTree> = vec![
        TokenTree::Ident(Ident::new("move", Span::call_site())),
        TokenTree::Punct(Punct::new('|', Spacing::Alone)),
        TokenTree::Punct(Punct::new('|', Spacing::Alone)),
        TokenTree::Punct(Punct::new('-', Spacing::Joint)),
        TokenTree::Punct(Punct::new('>', Spacing::Alone)),
    ];
    closure.extend(ret);
    closure.push(TokenTree::Group(body.clone()));
    call.push(TokenTree::Group(Group::new(
        Delimiter::Parenthesis,
        closure.into_iter().collect(),
    )));
    let new_body = Group::new(Delimiter::Brace, call.into_iter().collect());
    let mut out: Vec<TokenTree> = Vec::new();
    if is_test {
        out.push(TokenTree::Punct(Punct::new('#', Spacing::Alone)));
        out.push(TokenTree::Group(Group::new(
            Delimiter::Bracket,
            TokenTree::Ident(Ident::new("test", Span::call_site())).into(),
        )));
    }
    out.extend(tokens);
    out.push(TokenTree::Group(new_body));
    out.into_iter().collect()
}

/// The tokens after `->` in the signature, or `()`.
fn return_type(sig: &[TokenTree]) -> Vec<TokenTree> {
    let arrow = sig.windows(2).position(|w| {
        matches!((&w[0], &w[1]), (TokenTree::Punct(a), TokenTree::Punct(b))
            if a.as_char() == '-' && b.as_char() == '>')
    });
    match arrow {
        Some(i) => sig[i + 2..].to_vec(),
        None => vec![TokenTree::Group(Group::new(
            Delimiter::Parenthesis,
            TokenStream::new(),
        ))],
    }
}

fn path(segments: &[&str]) -> Vec<TokenTree> {
    let mut out = Vec::new();
    for s in segments {
        out.push(TokenTree::Punct(Punct::new(':', Spacing::Joint)));
        out.push(TokenTree::Punct(Punct::new(':', Spacing::Alone)));
        out.push(TokenTree::Ident(Ident::new(s, Span::call_site())));
    }
    out
}

fn error(msg: &str, span: Span) -> TokenStream {
    let mut out: Vec<TokenTree> = path(&["core", "compile_error"]);
    out.push(TokenTree::Punct(Punct::new('!', Spacing::Alone)));
    let lit = proc_macro::Literal::string(msg);
    out.push(TokenTree::Group(Group::new(
        Delimiter::Parenthesis,
        TokenTree::Literal(lit).into(),
    )));
    out.push(TokenTree::Punct(Punct::new(';', Spacing::Alone)));
    out.into_iter()
        .map(|mut t| {
            t.set_span(span);
            t
        })
        .collect()
}
