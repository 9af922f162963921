//! `select!`: parsing and expansion.
//!
//! # Stages
//!
//! 1. Parse the branches: `pat = expr [, if guard] => body [,]` and at most
//!    one `default => body [,]`. No branch at all is Go's `select {}`: wait
//!    forever; only a `default` runs it at once.
//! 2. Declare an enum with one variant per branch to carry the chosen case's
//!    output, generic over the outputs so their types are inferred.
//! 3. Turn each enabled branch's expression into a case: channel operations
//!    (`rx.recv()`, `tx.send(v)`, a `Receiver`) become channel cases that
//!    take part in the select's shared claim; any other future becomes a
//!    future case (the choice is made by autoref specialisation on the
//!    expression's type, see `gort_sync::select::kind`). A disabled branch's
//!    expression is never evaluated.
//! 4. Poll the engine (`gort_sync::select::Select`) until a case completes
//!    or `default` is taken. If the output does not match the branch's
//!    pattern, disable that branch and select again.
//! 5. Drop the cases (unregistering their waiters), then run the chosen
//!    branch's body in the caller's context, so `.await`, `?`, `return`,
//!    `break` and `continue` in a body mean what they mean around it.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::{Expr, Pat, Token};

/// The most branches one `select!` may have: the engine's
/// `gort_sync::select::MAX_CASES`, which a proc-macro crate cannot import
/// (it does not link the crates its expansions call). This copy gives the
/// error at the user's span; every expansion asserts at compile time that
/// it equals the engine's constant (see `expand`), so the two cannot drift
/// apart unnoticed.
const MAX_BRANCHES: usize = 64;

struct Branch {
    pat: Pat,
    expr: Expr,
    guard: Option<Expr>,
    body: Expr,
}

pub(crate) struct Select {
    branches: Vec<Branch>,
    default: Option<Expr>,
}

fn parse_body(input: ParseStream<'_>) -> syn::Result<Expr> {
    let body: Expr = input.parse()?;
    let is_block = matches!(
        body,
        Expr::Block(_)
            | Expr::If(_)
            | Expr::Match(_)
            | Expr::Loop(_)
            | Expr::While(_)
            | Expr::ForLoop(_)
            | Expr::Unsafe(_)
    );
    if input.is_empty() {
        return Ok(body);
    }
    if is_block {
        let _ = input.parse::<Option<Token![,]>>()?;
    } else {
        input.parse::<Token![,]>().map_err(|e| {
            syn::Error::new(
                e.span(),
                "expected `,` after a branch whose body is not a block",
            )
        })?;
    }
    Ok(body)
}

impl Parse for Select {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut branches = Vec::new();
        let mut default: Option<Expr> = None;
        while !input.is_empty() {
            if input.peek(Token![default]) && input.peek2(Token![=>]) {
                let kw: Token![default] = input.parse()?;
                input.parse::<Token![=>]>()?;
                let body = parse_body(input)?;
                if default.is_some() {
                    return Err(syn::Error::new(
                        kw.span(),
                        "`select!` has more than one `default` branch",
                    ));
                }
                default = Some(body);
                continue;
            }
            let pat = Pat::parse_multi_with_leading_vert(input)?;
            input.parse::<Token![=]>().map_err(|e| {
                syn::Error::new(
                    e.span(),
                    "expected `=` after the branch pattern: `pattern = future => body`",
                )
            })?;
            let expr = Expr::parse_without_eager_brace(input)?;
            let guard = if input.peek(Token![,]) && input.peek2(Token![if]) {
                input.parse::<Token![,]>()?;
                input.parse::<Token![if]>()?;
                Some(Expr::parse_without_eager_brace(input)?)
            } else {
                None
            };
            input
                .parse::<Token![=>]>()
                .map_err(|e| syn::Error::new(e.span(), "expected `=>` before the branch body"))?;
            let body = parse_body(input)?;
            branches.push(Branch {
                pat,
                expr,
                guard,
                body,
            });
        }
        if branches.len() > MAX_BRANCHES {
            return Err(syn::Error::new(
                branches[MAX_BRANCHES].pat.span(),
                format!("`select!` supports at most {MAX_BRANCHES} branches"),
            ));
        }
        Ok(Select { branches, default })
    }
}

/// Removes `mut` and `ref` from bindings, so the pattern can be tested
/// against a reference to the output without moving it.
struct CleanPattern;

impl VisitMut for CleanPattern {
    fn visit_pat_ident_mut(&mut self, i: &mut syn::PatIdent) {
        i.by_ref = None;
        i.mutability = None;
        syn::visit_mut::visit_pat_ident_mut(self, i);
    }
}

pub(crate) fn expand(sel: Select) -> TokenStream {
    let n = sel.branches.len();
    if n == 0 {
        return match sel.default {
            // `select { default: }`: nothing to wait on; the default runs.
            Some(body) => quote! {{ #body }},
            // `select {}`: waits forever (the deadlock detector sees it).
            None => quote! {{
                loop {
                    ::gort::__private::select::Forever.await;
                }
            }},
        };
    }
    let out_ty = format_ident!("__GortSelectOut");
    let generics: Vec<_> = (0..n).map(|i| format_ident!("__T{}", i)).collect();
    let variants: Vec<_> = (0..n).map(|i| format_ident!("_{}", i)).collect();
    let cases: Vec<_> = (0..n).map(|i| format_ident!("__gort_case_{}", i)).collect();
    let private = quote!(::gort::__private::select);

    let case_inits = sel.branches.iter().enumerate().map(|(i, b)| {
        let (case, variant) = (&cases[i], &variants[i]);
        let expr = &b.expr;
        let make = quote_spanned! {expr.span()=>
            #private::map(
                {
                    #[allow(unused_imports)]
                    use #private::kind::{ChanKind as _, FutKind as _};
                    let __gort_op = #expr;
                    (&__gort_op).__gort_case_kind().into_case(__gort_op)
                },
                #out_ty::#variant,
            )
        };
        match &b.guard {
            Some(g) => quote! { let mut #case = if #g { ::core::option::Option::Some(#make) } else { ::core::option::Option::None }; },
            None => quote! { let mut #case = ::core::option::Option::Some(#make); },
        }
    });

    let checks = sel.branches.iter().enumerate().map(|(i, b)| {
        let mut pat = b.pat.clone();
        CleanPattern.visit_pat_mut(&mut pat);
        let (variant, case) = (&variants[i], &cases[i]);
        quote! {
            #out_ty::#variant(__gort_v) => {
                #[allow(unused_variables, unreachable_patterns, clippy::match_single_binding)]
                let __gort_ok = match &__gort_v { #pat => true, _ => false };
                if __gort_ok {
                    break ::core::option::Option::Some(#out_ty::#variant(__gort_v));
                }
                // Not chosen after all: a received value goes back to
                // its channel, and the branch is disabled.
                if let ::core::option::Option::Some(__gort_c) = #case.as_mut() {
                    __gort_c.give_back(__gort_v);
                }
                #case = ::core::option::Option::None;
            }
        }
    });

    let arms = sel.branches.iter().enumerate().map(|(i, b)| {
        let (pat, body, variant) = (&b.pat, &b.body, &variants[i]);
        quote! { ::core::option::Option::Some(#out_ty::#variant(#pat)) => #body, }
    });
    let has_default = sel.default.is_some();
    let default_arm = match &sel.default {
        Some(body) => quote! { ::core::option::Option::None => #body, },
        None => quote! {},
    };
    let enum_def = quote! { enum #out_ty<#(#generics),*> { #(#variants(#generics)),* } };
    let drops = cases.iter().map(|c| quote! { ::core::mem::drop(#c); });
    let max = proc_macro2::Literal::usize_unsuffixed(MAX_BRANCHES);

    quote! {{
        // This macro's branch limit is the engine's (`MAX_BRANCHES`).
        const _: () = ::core::assert!(
            #max == #private::MAX_CASES,
            "gort-macros' select! branch limit differs from gort_sync::select::MAX_CASES",
        );
        #[allow(non_camel_case_types, dead_code)]
        #enum_def
        #(#case_inits)*
        let mut __gort_select = #private::Select::new();
        let __gort_chosen = loop {
            let __gort_r = ::core::future::poll_fn(|__gort_cx| {
                let __gort_cases: &mut [&mut dyn #private::Case<_>] = &mut [#(&mut #cases),*];
                __gort_select.poll(__gort_cx, __gort_cases, #has_default)
            })
            .await;
            match __gort_r {
                #private::Selected::Default => break ::core::option::Option::None,
                #private::Selected::Case(_, __gort_out) => {
                    match __gort_out {
                        #(#checks)*
                    }
                    __gort_select.reset();
                }
            }
        };
        #(#drops)*
        #[allow(unreachable_patterns, unreachable_code)]
        match __gort_chosen {
            #(#arms)*
            #default_arm
            _ => ::core::unreachable!("gort::select!: a branch was chosen whose pattern did not match"),
        }
    }}
}
