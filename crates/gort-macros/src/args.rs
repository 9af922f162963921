//! The attribute's arguments: `#[gort::main(procs = N)]`.
//!
//! The grammar is a comma-separated list of `name = value` pairs; `procs`,
//! an integer literal of at least 1, is the only name today. Every problem
//! is reported as a `syn::Error` at the offending token, and problems with
//! several arguments are combined into one error so the user sees them all
//! at once.

use proc_macro2::TokenStream;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, Lit, LitInt, Meta, Token};

/// The parsed arguments of `#[gort::main]` or `#[gort::test]`.
#[derive(Default)]
pub(crate) struct Args {
    /// `procs = N`: the number of Ps, emitted as `.procs(N)`. `None` leaves
    /// the `Builder` default (`GORT_MAXPROCS`, else the CPU count).
    pub(crate) procs: Option<LitInt>,
}

impl Args {
    /// Parses the tokens inside the attribute's parentheses.
    pub(crate) fn parse(tokens: TokenStream) -> syn::Result<Args> {
        let metas = Punctuated::<Meta, Token![,]>::parse_terminated.parse2(tokens)?;
        let mut args = Args::default();
        let mut errors: Option<syn::Error> = None;
        for meta in metas {
            if let Err(e) = args.apply(meta) {
                match &mut errors {
                    Some(all) => all.combine(e),
                    None => errors = Some(e),
                }
            }
        }
        match errors {
            Some(e) => Err(e),
            None => Ok(args),
        }
    }

    /// Records one `name = value` argument.
    fn apply(&mut self, meta: Meta) -> syn::Result<()> {
        let path = meta.path();
        if !path.is_ident("procs") {
            let name = path
                .segments
                .iter()
                .map(|s| s.ident.to_string())
                .collect::<Vec<_>>()
                .join("::");
            return Err(syn::Error::new_spanned(
                path,
                format!("unknown attribute `{name}`; expected `procs`"),
            ));
        }
        let value = match meta {
            Meta::NameValue(nv) => nv.value,
            other => {
                return Err(syn::Error::new_spanned(
                    other,
                    "expected `procs = N`, with N an integer literal of at least 1",
                ))
            }
        };
        let lit = procs_literal(&value)?;
        if self.procs.is_some() {
            return Err(syn::Error::new_spanned(&lit, "duplicate `procs` argument"));
        }
        self.procs = Some(lit);
        Ok(())
    }
}

/// Checks that `value` is an unsuffixed (or `usize`) integer literal of at
/// least 1, and returns it as an unsuffixed literal with the user's span.
fn procs_literal(value: &Expr) -> syn::Result<LitInt> {
    let Expr::Lit(ExprLit {
        lit: Lit::Int(lit),
        attrs,
    }) = value
    else {
        return Err(syn::Error::new_spanned(
            value,
            "`procs` must be an integer literal of at least 1, e.g. `procs = 4`",
        ));
    };
    if !attrs.is_empty() || !matches!(lit.suffix(), "" | "usize") {
        return Err(syn::Error::new_spanned(
            value,
            "`procs` must be an unsuffixed integer literal, e.g. `procs = 4`",
        ));
    }
    let n: usize = lit.base10_parse()?;
    if n == 0 {
        return Err(syn::Error::new_spanned(
            lit,
            "`procs` must be at least 1: a runtime with no Ps could never run a task",
        ));
    }
    Ok(LitInt::new(&n.to_string(), lit.span()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn err(tokens: TokenStream) -> String {
        match Args::parse(tokens) {
            Ok(_) => panic!("expected an error"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn empty_leaves_procs_unset() {
        assert!(Args::parse(quote!()).unwrap().procs.is_none());
    }

    #[test]
    fn procs_is_parsed() {
        let args = Args::parse(quote!(procs = 4)).unwrap();
        assert_eq!(args.procs.unwrap().base10_digits(), "4");
        let args = Args::parse(quote!(procs = 2usize,)).unwrap();
        assert_eq!(args.procs.unwrap().to_string(), "2");
    }

    #[test]
    fn misuse_is_reported() {
        assert_eq!(
            err(quote!(threads = 2)),
            "unknown attribute `threads`; expected `procs`"
        );
        assert!(err(quote!(procs = 0)).starts_with("`procs` must be at least 1"));
        assert!(err(quote!(procs = "x")).starts_with("`procs` must be an integer literal"));
        assert!(err(quote!(procs = 2u8)).starts_with("`procs` must be an unsuffixed"));
        assert!(err(quote!(procs)).starts_with("expected `procs = N`"));
        assert_eq!(
            err(quote!(procs = 1, procs = 2)),
            "duplicate `procs` argument"
        );
    }

    #[test]
    fn every_bad_argument_is_reported() {
        let Err(e) = Args::parse(quote!(threads = 2, procs = 0)) else {
            panic!("expected an error");
        };
        assert_eq!(e.into_iter().count(), 2);
    }
}
