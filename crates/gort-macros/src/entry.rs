//! The expansion shared by `#[gort::main]` and `#[gort::test]`.
//!
//! Both turn `async fn name() -> Ret { body }` into a synchronous
//! `fn name() -> Ret` that builds a fresh runtime and `block_on`s the body.
//! The stages:
//!
//! 1. Parse the arguments ([`Args`]) and the item (a `syn::Item` that must
//!    be a fn).
//! 2. Check the signature: `async`, no parameters, no generics, not `const`,
//!    `unsafe` or `extern`; for tests, no second `#[test]`. Every problem
//!    found in 1 and 2 is combined into one `syn::Error`, each part at the
//!    user's token, and emitted next to a fallback item ([`try_expand`]).
//! 3. Emit the sync fn. The user's outer attributes, visibility, name and
//!    return type are re-emitted with their own spans; inner attributes
//!    (`#![allow(..)]`) move to the top of the generated body, where they
//!    cover the body as they did before.
//!
//! Spans: the body is wrapped as `let ret: Ret = { body };` inside the
//! async block, so a wrong tail expression is reported at the user's
//! expression, and `?` converts into the declared error type. Names the
//! expansion introduces use `Span::mixed_site()`, so they cannot collide
//! with the user's. The runtime's construction is spanned at the attribute
//! (the call site), so a failed `build()` panics pointing there.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::{AttrStyle, Attribute, Item, ItemFn, ReturnType, Type};

use crate::args::Args;

/// Which attribute is being expanded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `#[gort::main]`.
    Main,
    /// `#[gort::test]`.
    Test,
}

impl Kind {
    /// The attribute as the user writes it, for error messages.
    fn attr(self) -> &'static str {
        match self {
            Kind::Main => "`#[gort::main]`",
            Kind::Test => "`#[gort::test]`",
        }
    }
}

/// Expands the attribute; on misuse, returns `compile_error!`s at the
/// user's spans instead of panicking, next to a fallback item (see
/// [`try_expand`]).
pub(crate) fn expand(kind: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    match try_expand(kind, args, item) {
        Ok(tokens) => tokens,
        Err((e, mut fallback)) => {
            fallback.extend(e.to_compile_error());
            fallback
        }
    }
}

/// The expansion, or every error found together with a fallback item that
/// keeps the user's other errors from cascading (no "`main` function not
/// found", no "cannot find function" at call sites):
///
/// - an item that is not a fn is passed through unchanged;
/// - a good fn with bad arguments is expanded with the default arguments,
///   so its body is still type-checked;
/// - a fn with a bad signature becomes a sync stub with the same name (see
///   [`stub`]).
fn try_expand(
    kind: Kind,
    args: TokenStream,
    item: TokenStream,
) -> Result<TokenStream, (syn::Error, TokenStream)> {
    let args = Args::parse(args).and_then(|a| match kind {
        Kind::Main => test_only(&a).map_or(Ok(a), Err),
        Kind::Test => Ok(a),
    });
    let f = match syn::parse2::<Item>(item.clone()) {
        Ok(Item::Fn(f)) => f,
        Ok(other) => {
            let msg = format!("{} can only be applied to an `async fn`", kind.attr());
            let e = syn::Error::new_spanned(other, msg);
            return Err((combine(args.err(), e), item));
        }
        Err(e) => return Err((combine(args.err(), e), item)),
    };
    match (args, check(kind, &f)) {
        (Ok(args), Ok(())) => Ok(generate(kind, &args, f)),
        (Err(e), Ok(())) => Err((e, generate(kind, &Args::default(), f))),
        (args, Err(e)) => Err((combine(args.err(), e), stub(kind, &f))),
    }
}

/// The test-only arguments given to `#[gort::main]`, as one error with a
/// part at each, or `None`.
fn test_only(a: &Args) -> Option<syn::Error> {
    let mut errors = Vec::new();
    if let Some((text, _)) = &a.timeout {
        errors.push(syn::Error::new_spanned(
            text,
            "`timeout` is for `#[gort::test]`; a program's main runs as long as it needs",
        ));
    }
    if let Some(p) = &a.synctest {
        errors.push(syn::Error::new_spanned(
            p,
            "`synctest` is for `#[gort::test]`; a program runs on real time \
             (use `gort::synctest::run` for a bubble inside one)",
        ));
    }
    if let Some(p) = &a.leak_check {
        errors.push(syn::Error::new_spanned(
            p,
            "`leak_check` is for `#[gort::test]`; call `gort::runtime::check_leaks` \
             at the end of main instead",
        ));
    }
    errors.into_iter().reduce(|mut all, e| {
        all.combine(e);
        all
    })
}

/// `first` (if any) followed by `then`.
fn combine(first: Option<syn::Error>, then: syn::Error) -> syn::Error {
    match first {
        Some(mut e) => {
            e.combine(then);
            e
        }
        None => then,
    }
}

/// A sync fn with `f`'s name, parameters, generics and return type, whose
/// body only panics. It is emitted only next to a compile error, so it never
/// runs; it exists so that the error is the only one reported. For `#[gort::main]` on `main`, parameters
/// and generics are dropped, since they would make `main` itself invalid.
/// The user's attributes are dropped too: a stray `#[should_panic]` without
/// its `#[test]` would only add warnings.
fn stub(kind: Kind, f: &ItemFn) -> TokenStream {
    let ItemFn { vis, sig, .. } = f;
    let (ident, output) = (&sig.ident, &sig.output);
    if kind == Kind::Main && ident == "main" {
        return quote!(#vis fn #ident() #output { ::core::panic!("gort: see the compile error above") });
    }
    let (inputs, generics) = (&sig.inputs, &sig.generics);
    let where_clause = &generics.where_clause;
    quote! {
        #[allow(unused_variables)]
        #vis fn #ident #generics (#inputs) #output #where_clause {
            ::core::panic!("gort: see the compile error above")
        }
    }
}

/// Collects into one error every way `f` cannot be expanded.
fn check(kind: Kind, f: &ItemFn) -> syn::Result<()> {
    let sig = &f.sig;
    let attr = kind.attr();
    let mut errors = Vec::new();
    if sig.asyncness.is_none() {
        errors.push(syn::Error::new_spanned(
            sig.fn_token,
            "the `async` keyword is missing from the function declaration",
        ));
    }
    if let Some(c) = &sig.constness {
        errors.push(syn::Error::new_spanned(
            c,
            format!("{attr} cannot be used on a `const fn`"),
        ));
    }
    if let Some(u) = &sig.unsafety {
        errors.push(syn::Error::new_spanned(
            u,
            format!("{attr} cannot be used on an `unsafe fn`"),
        ));
    }
    if let Some(abi) = &sig.abi {
        errors.push(syn::Error::new_spanned(
            abi,
            format!("{attr} cannot be used on an `extern` fn"),
        ));
    }
    // `Generics` prints only `<..>`; a lone `where` clause needs its own span.
    let generics = &sig.generics;
    let generic_tokens = match &generics.where_clause {
        Some(w) if generics.params.is_empty() => Some(w.to_token_stream()),
        _ if generics.params.is_empty() => None,
        _ => Some(generics.to_token_stream()),
    };
    if let Some(tokens) = generic_tokens {
        errors.push(syn::Error::new_spanned(
            tokens,
            format!("{attr} functions cannot be generic"),
        ));
    }
    if !sig.inputs.is_empty() || sig.variadic.is_some() {
        let what = match kind {
            Kind::Main => "the `#[gort::main]` function cannot accept arguments",
            Kind::Test => "`#[gort::test]` functions cannot accept arguments",
        };
        let span_of = match (&sig.variadic, sig.inputs.is_empty()) {
            (Some(v), true) => v.to_token_stream(),
            _ => sig.inputs.to_token_stream(),
        };
        errors.push(syn::Error::new_spanned(span_of, what));
    }
    if kind == Kind::Test {
        if let Some(a) = f.attrs.iter().find(|a| is_test_attr(a)) {
            errors.push(syn::Error::new_spanned(
                a,
                "second test attribute: `#[gort::test]` already adds `#[test]`; remove this one",
            ));
        }
    }
    let mut errors = errors.into_iter();
    match errors.next() {
        None => Ok(()),
        Some(mut first) => {
            errors.for_each(|e| first.combine(e));
            Err(first)
        }
    }
}

/// `#[test]` or the prelude's `#[core::prelude::v1::test]` (any edition).
fn is_test_attr(a: &Attribute) -> bool {
    let segs: Vec<String> = a
        .path()
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect();
    match segs.as_slice() {
        [t] => t == "test",
        [krate, prelude, _, t] => {
            (krate == "core" || krate == "std") && prelude == "prelude" && t == "test"
        }
        _ => false,
    }
}

/// Stage 3: the synchronous fn.
fn generate(kind: Kind, args: &Args, f: ItemFn) -> TokenStream {
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = f;
    let (outer, inner): (Vec<Attribute>, Vec<Attribute>) = attrs
        .into_iter()
        .partition(|a| matches!(a.style, AttrStyle::Outer));
    let fn_token = sig.fn_token;
    let ident = &sig.ident;
    let output = &sig.output;
    let paren = sig.paren_token;
    let mut params = TokenStream::new();
    paren.surround(&mut params, |_| {});

    // The body's type, when it can be named in a `let` (`impl Trait` can't;
    // there the block's type is left to inference).
    let ret_ty: Option<TokenStream> = match output {
        ReturnType::Default => Some(quote!(())),
        ReturnType::Type(_, ty) if contains_impl_trait(ty) => None,
        ReturnType::Type(_, ty) => Some(ty.to_token_stream()),
    };

    let ret = quote_spanned!(Span::mixed_site()=> __gort_ret);
    let fut = quote_spanned!(Span::mixed_site()=> __gort_body);
    let body = match &ret_ty {
        // A body that diverges (`panic!`, `loop {}`) makes the `return`
        // unreachable, hence the `allow` there (a statement, so it can carry
        // one) and clippy's `diverging_sub_expression` on `let ret = {
        // panic!(..); }`; the latter also covers that clippy lint inside
        // the body, a small loss next to warning on every panicking test.
        Some(ty) => quote! {
            async {
                #[allow(clippy::diverging_sub_expression)]
                let #ret: #ty = #block;
                #[allow(unreachable_code)]
                return #ret;
            }
        },
        None => quote!(async #block),
    };
    // Tests pin the body behind `dyn Future` so that every test shares one
    // `block_on` instantiation, as tokio does; `main` has one body, so there
    // is nothing to share.
    let pin_dyn = match (&ret_ty, kind) {
        (Some(ty), Kind::Test) => quote! {
            let #fut = ::core::pin::pin!(#fut);
            let #fut: ::core::pin::Pin<&mut dyn ::core::future::Future<Output = #ty>> = #fut;
        },
        _ => TokenStream::new(),
    };

    let procs = args.procs.as_ref().map(|n| quote!(.procs(#n)));
    // The contract turns the deadlock detector on in `#[gort::test]`.
    let detect_deadlock = match (&args.detect_deadlock, kind) {
        (Some(b), _) => quote!(.detect_deadlock(#b)),
        (None, Kind::Main) => TokenStream::new(),
        (None, Kind::Test) => quote!(.detect_deadlock(true)),
    };
    // `__synctest` comes last so that nothing after it in the chain can
    // undo what a bubble needs.
    let synctest = args.synctest.as_ref().map(|_| quote!(.__synctest()));
    // A timeout is a deadline of `block_on`'s park, not a timer, so the
    // deadlock detector never counts it as pending work. The leak check
    // runs in gort-core after the body returns, so every test shares the
    // one `__block_on_test` instantiation.
    let leak_check = args.leak_check.is_some();
    let limit = match &args.timeout {
        Some((text, nanos)) => {
            let nanos = *nanos;
            let secs = (nanos / 1_000_000_000) as u64;
            let sub = (nanos % 1_000_000_000) as u32;
            quote! {
                ::core::option::Option::Some((
                    ::core::time::Duration::new(#secs, #sub),
                    #text,
                ))
            }
        }
        None => quote!(::core::option::Option::None),
    };
    let block_on = match (&args.timeout, leak_check) {
        (None, false) => quote!(.block_on(#fut)),
        _ => quote!(.__block_on_test(#fut, #limit, #leak_check)),
    };
    // The error's `Display` (e.g. `GORT_MAXPROCS="x" is not a positive
    // integer`) says more than `expect`'s `Debug` would.
    let failed = format!("{} could not build the gort runtime: {{}}", kind.attr());
    let test_attr = match kind {
        Kind::Main => TokenStream::new(),
        Kind::Test => quote!(#[::core::prelude::v1::test]),
    };
    // A program, not a test, answers SIGQUIT as Go's runtime does: the
    // dump on stderr, exit status 2 (`gort_core::io::signal`).
    let rt = quote_spanned!(Span::mixed_site()=> __gort_rt);
    let sigquit = match kind {
        Kind::Main => quote!(::gort::__private::install_sigquit_dump(&#rt.handle());),
        Kind::Test => TokenStream::new(),
    };
    // Go's program exits when main returns, waiting for nothing: main
    // ends with `shutdown_background`, so a blocking job stuck (on stdin,
    // say) does not hold the exit up. A test drops its runtime, which
    // waits for every thread (docs/semantics.md, "Runtime shutdown").
    let out = quote_spanned!(Span::mixed_site()=> __gort_out);
    let finish = match kind {
        Kind::Main => quote! {
            let #out = #rt #block_on;
            #rt.shutdown_background();
            #out
        },
        Kind::Test => quote!(#rt #block_on),
    };

    quote! {
        #test_attr
        #(#outer)*
        #vis #fn_token #ident #params #output {
            #(#inner)*
            let #fut = #body;
            #pin_dyn
            let #rt = ::gort::__private::Builder::new()
                #procs
                #detect_deadlock
                #synctest
                .build()
                .unwrap_or_else(|e| ::core::panic!(#failed, e));
            #sigquit
            #finish
        }
    }
}

/// Whether `ty` mentions `impl Trait` anywhere (e.g. `Result<impl Debug, E>`).
fn contains_impl_trait(ty: &Type) -> bool {
    fn walk(tokens: TokenStream) -> bool {
        tokens.into_iter().any(|tt| match tt {
            proc_macro2::TokenTree::Ident(i) => i == "impl",
            proc_macro2::TokenTree::Group(g) => walk(g.stream()),
            _ => false,
        })
    }
    walk(ty.to_token_stream())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expanded(kind: Kind, args: TokenStream, item: TokenStream) -> String {
        match try_expand(kind, args, item) {
            Ok(tokens) => tokens.to_string(),
            Err((e, _)) => panic!("unexpected error: {e}"),
        }
    }

    fn error(kind: Kind, args: TokenStream, item: TokenStream) -> Vec<String> {
        match try_expand(kind, args, item) {
            Ok(tokens) => panic!("expected an error, got {tokens}"),
            Err((e, _)) => e.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    fn fallback(kind: Kind, args: TokenStream, item: TokenStream) -> String {
        match try_expand(kind, args, item) {
            Ok(tokens) => panic!("expected an error, got {tokens}"),
            Err((_, fallback)) => fallback.to_string(),
        }
    }

    #[test]
    fn main_builds_a_runtime_and_blocks_on_the_body() {
        let out = expanded(
            Kind::Main,
            quote!(procs = 3),
            quote!(
                async fn main() {
                    run().await
                }
            ),
        );
        assert!(out.contains("fn main ()"), "{out}");
        assert!(out.contains(". procs (3)"), "{out}");
        assert!(out.contains("block_on"), "{out}");
        assert!(!out.contains("async fn"), "{out}");
        assert!(!out.contains("prelude :: v1 :: test"), "{out}");
        assert!(out.contains("install_sigquit_dump"), "{out}");
        assert!(out.contains("shutdown_background"), "{out}");
    }

    #[test]
    fn test_adds_the_test_attribute_and_keeps_the_others() {
        let out = expanded(
            Kind::Test,
            quote!(),
            quote!(
                #[ignore]
                async fn slow() -> Result<(), E> {
                    Ok(())
                }
            ),
        );
        assert!(
            out.starts_with("# [:: core :: prelude :: v1 :: test] # [ignore]"),
            "{out}"
        );
        assert!(out.contains("-> Result < () , E >"), "{out}");
        assert!(!out.contains(". procs"), "{out}");
        assert!(!out.contains("install_sigquit_dump"), "{out}");
        assert!(!out.contains("shutdown_background"), "{out}");
    }

    #[test]
    fn inner_attributes_move_into_the_body() {
        let out = expanded(
            Kind::Main,
            quote!(),
            quote!(
                async fn main() {
                    #![allow(unused)]
                }
            ),
        );
        let sig = out.find("fn main").unwrap();
        assert!(out.find("# ! [allow (unused)]").unwrap() > sig, "{out}");
    }

    #[test]
    fn impl_trait_returns_are_not_annotated() {
        let out = expanded(
            Kind::Main,
            quote!(),
            quote!(
                async fn run() -> impl Sized {
                    1
                }
            ),
        );
        assert!(!out.contains("__gort_ret"), "{out}");
    }

    #[test]
    fn signature_misuse_is_all_reported() {
        let errs = error(
            Kind::Test,
            quote!(threads = 1),
            quote!(
                fn f<T>(x: T) {}
            ),
        );
        assert_eq!(
            errs,
            [
                "unknown attribute `threads`; expected `procs`, `detect_deadlock`, `timeout`, \
                 `synctest` or `leak_check`",
                "the `async` keyword is missing from the function declaration",
                "`#[gort::test]` functions cannot be generic",
                "`#[gort::test]` functions cannot accept arguments",
            ]
        );
    }

    #[test]
    fn test_options_combine() {
        let out = expanded(
            Kind::Test,
            quote!(leak_check, procs = 1, synctest, timeout = "5s"),
            quote!(
                async fn t() {}
            ),
        );
        assert!(out.contains(". procs (1)"), "{out}");
        assert!(
            out.contains(". detect_deadlock (true) . __synctest () . build ()"),
            "{out}"
        );
        assert!(
            out.contains(". __block_on_test (__gort_body , :: core :: option :: Option :: Some"),
            "{out}"
        );
        assert!(out.contains("\"5s\" ,)) , true)"), "{out}");

        let out = expanded(
            Kind::Test,
            quote!(leak_check),
            quote!(
                async fn t() {}
            ),
        );
        assert!(
            out.contains(
                ". __block_on_test (__gort_body , :: core :: option :: Option :: None , true)"
            ),
            "{out}"
        );
        assert!(!out.contains("__synctest"), "{out}");

        let out = expanded(
            Kind::Test,
            quote!(timeout = "1s"),
            quote!(
                async fn t() {}
            ),
        );
        assert!(out.contains("\"1s\" ,)) , false)"), "{out}");
        let out = expanded(
            Kind::Test,
            quote!(),
            quote!(
                async fn t() {}
            ),
        );
        assert!(out.contains(". block_on (__gort_body)"), "{out}");
    }

    #[test]
    fn test_only_options_are_rejected_on_main() {
        let errs = error(
            Kind::Main,
            quote!(synctest, leak_check, timeout = "1s"),
            quote!(
                async fn main() {}
            ),
        );
        assert_eq!(errs.len(), 3, "{errs:?}");
        assert!(errs[0].starts_with("`timeout` is for `#[gort::test]`"));
        assert!(errs[1].starts_with("`synctest` is for `#[gort::test]`"));
        assert!(errs[2].starts_with("`leak_check` is for `#[gort::test]`"));
    }

    #[test]
    fn a_lone_where_clause_is_generic() {
        let errs = error(
            Kind::Test,
            quote!(),
            quote!(
                async fn f()
                where
                    u8: Copy,
                {
                }
            ),
        );
        assert_eq!(errs, ["`#[gort::test]` functions cannot be generic"]);
    }

    #[test]
    fn a_second_test_attribute_is_rejected() {
        let errs = error(
            Kind::Test,
            quote!(),
            quote!(
                #[test]
                async fn f() {}
            ),
        );
        assert!(errs[0].starts_with("second test attribute"), "{errs:?}");
        expanded(
            Kind::Main,
            quote!(),
            quote!(
                #[test]
                async fn f() {}
            ),
        );
    }

    #[test]
    fn non_functions_are_rejected() {
        let errs = error(
            Kind::Main,
            quote!(),
            quote!(
                struct S;
            ),
        );
        assert_eq!(
            errs,
            ["`#[gort::main]` can only be applied to an `async fn`"]
        );
        assert_eq!(
            fallback(
                Kind::Main,
                quote!(),
                quote!(
                    struct S;
                )
            ),
            "struct S ;"
        );
    }

    #[test]
    fn bad_arguments_still_expand_the_body() {
        let out = fallback(
            Kind::Main,
            quote!(procs = 0),
            quote!(
                async fn main() {
                    f().await
                }
            ),
        );
        assert!(out.contains("block_on"), "{out}");
        assert!(!out.contains(". procs"), "{out}");
    }

    #[test]
    fn a_bad_signature_leaves_a_stub() {
        let out = fallback(
            Kind::Main,
            quote!(),
            quote!(
                async fn main(a: u8) -> R {
                    a
                }
            ),
        );
        assert_eq!(
            out,
            "fn main () -> R { :: core :: panic ! (\"gort: see the compile error above\") }"
        );
        let out = fallback(
            Kind::Test,
            quote!(),
            quote!(
                fn helper<T>(a: T)
                where
                    T: Copy,
                {
                }
            ),
        );
        assert!(
            out.contains("fn helper < T > (a : T) where T : Copy , {"),
            "{out}"
        );
    }
}
