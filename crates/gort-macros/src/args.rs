//! The attribute's arguments: `#[gort::main(procs = N)]`,
//! `#[gort::test(procs = N, detect_deadlock = false, timeout = "5s")]`,
//! `#[gort::test(procs = 1, synctest, leak_check)]`.
//!
//! The grammar is a comma-separated list, in any order, of `name = value`
//! pairs and bare flags, each given at most once:
//!
//! - `procs`: an integer literal of at least 1 (`Builder::procs`);
//! - `detect_deadlock`: `true` or `false` (`Builder::detect_deadlock`; on
//!   by default in `#[gort::test]`, off in `#[gort::main]`);
//! - `timeout`: a duration string, humantime-like (`"250ms"`, `"5s"`,
//!   `"2m"`, `"1h"`, `"1m30s"`); past it the test panics with `test timed
//!   out after {text}` and the dump. Only in `#[gort::test]`;
//! - `synctest` (a flag): the test runs in a bubble with virtual time
//!   (`Builder::__synctest`). Only in `#[gort::test]`, and not with
//!   `detect_deadlock = false`: a bubble always detects deadlock, as Go's
//!   panics on one;
//! - `leak_check` (a flag): once the body returns, wait up to 1 s for the
//!   spawned tasks and fail with `leaked goroutines:` and their dump if
//!   any remain (`runtime::check_leaks`). Only in `#[gort::test]`.
//!
//! Every problem is reported as a `syn::Error` at the offending token, and
//! problems with several arguments are combined into one error so the user
//! sees them all at once.

use proc_macro2::TokenStream;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, Lit, LitBool, LitInt, LitStr, Meta, Path, Token};

/// The names `apply` knows, for the "unknown attribute" message.
const EXPECTED: &str = "expected `procs`, `detect_deadlock`, `timeout`, `synctest` or `leak_check`";

/// The parsed arguments of `#[gort::main]` or `#[gort::test]`.
#[derive(Default)]
pub(crate) struct Args {
    /// `procs = N`: the number of Ps, emitted as `.procs(N)`. `None` leaves
    /// the `Builder` default (`GORT_MAXPROCS`, else the CPU count).
    pub(crate) procs: Option<LitInt>,
    /// `detect_deadlock = b`; `None` leaves the attribute's default.
    pub(crate) detect_deadlock: Option<LitBool>,
    /// `timeout = "..."`: the text as written and its length in
    /// nanoseconds.
    pub(crate) timeout: Option<(LitStr, u128)>,
    /// `synctest`: the flag's path, for its span.
    pub(crate) synctest: Option<Path>,
    /// `leak_check`: the flag's path, for its span.
    pub(crate) leak_check: Option<Path>,
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
        if let (Some(_), Some(b)) = (&args.synctest, &args.detect_deadlock) {
            if !b.value {
                let e = syn::Error::new_spanned(
                    b,
                    "`synctest` always detects deadlock (a bubble whose tasks are all \
                     durably blocked panics, as Go's does); remove `detect_deadlock = false`",
                );
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

    /// Records one `name = value` argument or bare flag.
    fn apply(&mut self, meta: Meta) -> syn::Result<()> {
        let path = meta.path().clone();
        let name = path
            .segments
            .iter()
            .map(|s| s.ident.to_string())
            .collect::<Vec<_>>()
            .join("::");
        let usage = match name.as_str() {
            "procs" => "expected `procs = N`, with N an integer literal of at least 1",
            "detect_deadlock" => "expected `detect_deadlock = true` or `detect_deadlock = false`",
            "timeout" => {
                "expected `timeout = \"5s\"` (a duration such as \"250ms\", \"5s\", \"2m\")"
            }
            "synctest" => {
                "`synctest` is a flag and takes no value: write `#[gort::test(synctest)]`"
            }
            "leak_check" => {
                "`leak_check` is a flag and takes no value: write `#[gort::test(leak_check)]`"
            }
            _ => {
                return Err(syn::Error::new_spanned(
                    path,
                    format!("unknown attribute `{name}`; {EXPECTED}"),
                ))
            }
        };
        let duplicate = |what: &dyn quote::ToTokens| {
            syn::Error::new_spanned(what, format!("duplicate `{name}` argument"))
        };
        if let flag @ ("synctest" | "leak_check") = name.as_str() {
            let Meta::Path(path) = meta else {
                return Err(syn::Error::new_spanned(meta, usage));
            };
            let slot = match flag {
                "synctest" => &mut self.synctest,
                _ => &mut self.leak_check,
            };
            if slot.is_some() {
                return Err(duplicate(&path));
            }
            *slot = Some(path);
            return Ok(());
        }
        let value = match meta {
            Meta::NameValue(nv) => nv.value,
            other => return Err(syn::Error::new_spanned(other, usage)),
        };
        match name.as_str() {
            "procs" => {
                let lit = procs_literal(&value)?;
                if self.procs.is_some() {
                    return Err(duplicate(&lit));
                }
                self.procs = Some(lit);
            }
            "detect_deadlock" => {
                let Expr::Lit(ExprLit {
                    lit: Lit::Bool(b), ..
                }) = &value
                else {
                    return Err(syn::Error::new_spanned(&value, usage));
                };
                if self.detect_deadlock.is_some() {
                    return Err(duplicate(b));
                }
                self.detect_deadlock = Some(b.clone());
            }
            _ => {
                let Expr::Lit(ExprLit {
                    lit: Lit::Str(text),
                    ..
                }) = &value
                else {
                    return Err(syn::Error::new_spanned(&value, usage));
                };
                let nanos = parse_duration(&text.value())
                    .map_err(|why| syn::Error::new_spanned(text, format!("`timeout`: {why}")))?;
                if self.timeout.is_some() {
                    return Err(duplicate(text));
                }
                self.timeout = Some((text.clone(), nanos));
            }
        }
        Ok(())
    }
}

/// Parses a humantime-like duration: one or more `<integer><unit>` parts,
/// units `ns`, `us`, `ms`, `s`, `m`, `h`, optionally separated by spaces
/// (`"1m 30s"`). Returns nanoseconds, at least 1.
pub(crate) fn parse_duration(text: &str) -> Result<u128, String> {
    let mut total: u128 = 0;
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err("empty duration; write e.g. \"5s\"".into());
    }
    while !rest.is_empty() {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 {
            return Err(format!(
                "`{text}` is not a duration; write e.g. \"250ms\", \"5s\", \"2m\""
            ));
        }
        let n: u128 = rest[..digits]
            .parse()
            .map_err(|_| format!("`{text}`: number too large"))?;
        rest = &rest[digits..];
        let unit_len = rest.len()
            - rest
                .trim_start_matches(|c: char| c.is_ascii_alphabetic())
                .len();
        let per: u128 = match &rest[..unit_len] {
            "ns" => 1,
            "us" | "µs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => return Err(format!("`{text}`: a number needs a unit (ms, s, m, h)")),
            u => {
                return Err(format!(
                    "`{text}`: unknown unit `{u}` (expected ns, us, ms, s, m or h)"
                ))
            }
        };
        rest = rest[unit_len..].trim_start();
        total = n
            .checked_mul(per)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| format!("`{text}`: too long"))?;
    }
    if total == 0 {
        return Err("a zero timeout would fail every test".into());
    }
    Ok(total)
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
            "unknown attribute `threads`; expected `procs`, `detect_deadlock`, `timeout`, \
             `synctest` or `leak_check`"
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
    fn detect_deadlock_and_timeout_are_parsed() {
        let args = Args::parse(quote!(detect_deadlock = false, timeout = "1m30s")).unwrap();
        assert!(!args.detect_deadlock.unwrap().value);
        let (text, nanos) = args.timeout.unwrap();
        assert_eq!(text.value(), "1m30s");
        assert_eq!(nanos, 90_000_000_000);
        assert!(err(quote!(detect_deadlock = 1)).starts_with("expected `detect_deadlock = true`"));
        assert!(err(quote!(timeout = 5)).starts_with("expected `timeout = \"5s\"`"));
        assert!(err(quote!(timeout = "5")).contains("needs a unit"));
        assert!(err(quote!(timeout = "5parsecs")).contains("unknown unit `parsecs`"));
        assert!(err(quote!(timeout = "0s")).contains("zero timeout"));
        assert_eq!(
            err(quote!(timeout = "1s", timeout = "2s")),
            "duplicate `timeout` argument"
        );
    }

    #[test]
    fn flags_are_parsed_in_any_order() {
        let args = Args::parse(quote!(
            leak_check,
            timeout = "5s",
            procs = 1,
            synctest,
            detect_deadlock = true
        ))
        .unwrap();
        assert!(args.synctest.is_some() && args.leak_check.is_some());
        assert_eq!(args.procs.unwrap().to_string(), "1");
        let args = Args::parse(quote!(procs = 2, leak_check)).unwrap();
        assert!(args.synctest.is_none() && args.leak_check.is_some());
    }

    #[test]
    fn flag_misuse_is_reported() {
        assert!(err(quote!(synctest = true)).starts_with("`synctest` is a flag"));
        assert!(err(quote!(leak_check(1))).starts_with("`leak_check` is a flag"));
        assert_eq!(
            err(quote!(leak_check, leak_check)),
            "duplicate `leak_check` argument"
        );
        assert!(err(quote!(synctset)).starts_with("unknown attribute `synctset`; expected"));
        assert!(err(quote!(synctest, detect_deadlock = false))
            .starts_with("`synctest` always detects deadlock"));
        assert!(err(quote!(detect_deadlock = false, synctest))
            .starts_with("`synctest` always detects deadlock"));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Ok(250_000_000));
        assert_eq!(parse_duration("5s"), Ok(5_000_000_000));
        assert_eq!(parse_duration("2m"), Ok(120_000_000_000));
        assert_eq!(parse_duration("1h 2m"), Ok(3_720_000_000_000));
        assert_eq!(parse_duration("10us"), Ok(10_000));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("1.5s").is_err());
    }

    #[test]
    fn every_bad_argument_is_reported() {
        let Err(e) = Args::parse(quote!(threads = 2, procs = 0)) else {
            panic!("expected an error");
        };
        assert_eq!(e.into_iter().count(), 2);
    }
}
