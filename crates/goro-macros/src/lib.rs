//! Attribute macros for goro: `#[goro::main]` and `#[goro::test]` run a function's body as
//! the main goroutine of the default runtime, through `goro::run`.
//!
//! Both wrap the body as `::goro::run(move || body)`, so a panic is re-raised on the calling
//! thread, as `#[test]` expects. A function with a return type `R` (say
//! `Result<(), Box<dyn Error>>`) keeps `?` working: its body runs as a closure returning
//! `R` inside the goroutine, where the result is reported as std reports `main`'s (an
//! `Err` prints `Error: ..` and fails), and the function returns the resulting
//! `std::process::ExitCode` instead — so `R` need not be `Send`.

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
/// A `main` returning `Result` works too, with any error type std's `main` accepts:
///
/// ```
/// #[goro::main]
/// fn main() -> Result<(), Box<dyn std::error::Error>> {
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
    let (signature, ret) = split_return_type(tokens);
    let wrapped = match ret {
        // `goro::run(move || body)`: the value is `()`.
        None => substitute(tokens_of("::goro::run(move || __goro_body)"), &body, &[]),
        // The return value may not be `Send` (`Box<dyn Error>`), so it is reported inside
        // the goroutine, as std's `main` would report it, and only the exit code crosses
        // back: the function returns `ExitCode` instead.
        Some(ret) => substitute(
            tokens_of(
                "::goro::run(move || ::std::process::Termination::report(\
                 (move || -> __goro_ret __goro_body)()))",
            ),
            &body,
            &ret,
        ),
    };
    let mut out: Vec<TokenTree> = Vec::new();
    if is_test {
        out.extend(tokens_of("#[test]"));
    }
    out.extend(signature);
    out.push(TokenTree::Group(Group::new(
        Delimiter::Brace,
        wrapped.into_iter().collect(),
    )));
    out.into_iter().collect()
}

/// Replaces the placeholder idents `__goro_body` and `__goro_ret` (at any depth) by the
/// function's body (keeping its spans, so errors point into it) and return type.
fn substitute(template: Vec<TokenTree>, body: &Group, ret: &[TokenTree]) -> Vec<TokenTree> {
    let mut out = Vec::with_capacity(template.len());
    for t in template {
        match t {
            TokenTree::Ident(i) if i.to_string() == "__goro_body" => {
                out.push(TokenTree::Group(body.clone()))
            }
            TokenTree::Ident(i) if i.to_string() == "__goro_ret" => out.extend(ret.to_vec()),
            TokenTree::Group(g) => {
                let inner = substitute(g.stream().into_iter().collect(), body, ret);
                out.push(TokenTree::Group(Group::new(
                    g.delimiter(),
                    inner.into_iter().collect(),
                )));
            }
            other => out.push(other),
        }
    }
    out
}

/// Splits `fn name(..) -> R` into the part before `->` (with `-> ::std::process::ExitCode`
/// put in place of `-> R`) and `R`; `None` when there is no return type.
fn split_return_type(sig: Vec<TokenTree>) -> (Vec<TokenTree>, Option<Vec<TokenTree>>) {
    let arrow = sig.windows(2).position(|w| {
        matches!((&w[0], &w[1]), (TokenTree::Punct(a), TokenTree::Punct(b))
            if a.as_char() == '-' && b.as_char() == '>')
    });
    match arrow {
        None => (sig, None),
        Some(i) => {
            let ret = sig[i + 2..].to_vec();
            let mut head = sig[..i].to_vec();
            head.extend(tokens_of("-> ::std::process::ExitCode"));
            (head, Some(ret))
        }
    }
}

/// Parses a fixed piece of Rust into tokens.
fn tokens_of(code: &str) -> Vec<TokenTree> {
    code.parse::<TokenStream>()
        .expect("goro-macros: fixed tokens parse")
        .into_iter()
        .collect()
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
