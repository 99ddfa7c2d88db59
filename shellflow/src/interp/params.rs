//! Parameter expansion operators (XCU 2.6.2 and bash's extensions): defaults, alternatives,
//! lengths, prefix/suffix removal, substrings and slices, case changes, replacement,
//! `${!prefix@}` and `${!arr[@]}`.
//!
//! Operators on unknown values give unknown values with the same reason; they never guess.

use crate::parse::{self, SubstringMatchKind};
use crate::parse::{Parameter, ParameterExpr, ParameterTestType, SpecialParameter};
use crate::pattern;
use crate::value::Val;

use super::expand::{first_char, map_known, slice, unset_env, Mode, PVal};
use super::state::{State, VarValue};
use super::{arith, Interp};

impl Interp<'_> {
    pub(super) fn param_expr(&mut self, st: &mut State, e: &ParameterExpr, mode: Mode) -> PVal {
        use ParameterExpr as E;
        match e {
            E::Parameter {
                parameter,
                indirect,
            } => match self.param(st, parameter, *indirect) {
                PVal::Unset => PVal::One(Val::default()),
                v => v,
            },
            E::UseDefaultValues {
                parameter,
                indirect,
                test_type,
                default_value,
            } => {
                let pv = self.param(st, parameter, *indirect);
                self.use_default(st, pv, test_type, default_value.as_deref(), None)
            }
            E::AssignDefaultValues {
                parameter,
                indirect,
                test_type,
                default_value,
            } => {
                let pv = self.param(st, parameter, *indirect);
                let name = match parameter {
                    Parameter::Named(n) if !indirect => Some(n.clone()),
                    _ => None,
                };
                self.use_default(st, pv, test_type, default_value.as_deref(), name)
            }
            E::IndicateErrorIfNullOrUnset {
                parameter,
                indirect,
                ..
            } => self.param(st, parameter, *indirect),
            E::UseAlternativeValue {
                parameter,
                indirect,
                test_type,
                alternative_value,
            } => {
                let pv = self.param(st, parameter, *indirect);
                self.alternative(st, pv, test_type, alternative_value.as_deref())
            }
            E::ParameterLength {
                parameter,
                indirect,
            } => match self.param(st, parameter, *indirect) {
                PVal::Unset => PVal::One(Val::lit("0")),
                PVal::UnsetEnv(n) => {
                    PVal::One(Val::unknown(format!("${{#{n}}}"), "env not set in image"))
                }
                PVal::One(v) => PVal::One(v.known().map_or_else(
                    || Val::unknown("${#…}", v.why().unwrap_or_default()),
                    |s| Val::lit(s.chars().count().to_string()),
                )),
                PVal::Many(l, _) => PVal::One(Val::lit(l.len().to_string())),
            },
            E::RemoveSmallestSuffixPattern {
                parameter,
                indirect,
                pattern,
            }
            | E::RemoveLargestSuffixPattern {
                parameter,
                indirect,
                pattern,
            }
            | E::RemoveSmallestPrefixPattern {
                parameter,
                indirect,
                pattern,
            }
            | E::RemoveLargestPrefixPattern {
                parameter,
                indirect,
                pattern,
            } => {
                let pv = self.param(st, parameter, *indirect);
                let pat = self.expand_pattern(st, pattern.as_deref().unwrap_or(""));
                let Some(pat) = pat.known() else {
                    return PVal::One(Val::unknown("${…#…}", "pattern unknown"));
                };
                let op = |s: &str| match e {
                    E::RemoveSmallestSuffixPattern { .. } => pattern::strip_suffix(s, &pat, false),
                    E::RemoveLargestSuffixPattern { .. } => pattern::strip_suffix(s, &pat, true),
                    E::RemoveSmallestPrefixPattern { .. } => pattern::strip_prefix(s, &pat, false),
                    _ => pattern::strip_prefix(s, &pat, true),
                };
                map_known(pv, op)
            }
            E::Substring {
                parameter,
                indirect,
                offset,
                length,
            } => {
                let pv = self.param(st, parameter, *indirect);
                self.substring(
                    st,
                    parameter,
                    pv,
                    &offset.value,
                    length.as_ref().map(|l| l.value.as_str()),
                )
            }
            E::Transform {
                parameter,
                indirect,
                op,
            } => {
                let pv = self.param(st, parameter, *indirect);
                match op {
                    parse::ParameterTransformOp::ToUpperCase => map_known(pv, |s| s.to_uppercase()),
                    parse::ParameterTransformOp::ToLowerCase => map_known(pv, |s| s.to_lowercase()),
                    _ => pv,
                }
            }
            E::UppercasePattern {
                parameter,
                indirect,
                ..
            } => map_known(self.param(st, parameter, *indirect), |s| s.to_uppercase()),
            E::LowercasePattern {
                parameter,
                indirect,
                ..
            } => map_known(self.param(st, parameter, *indirect), |s| s.to_lowercase()),
            E::UppercaseFirstChar {
                parameter,
                indirect,
                ..
            } => map_known(self.param(st, parameter, *indirect), |s| {
                first_char(s, true)
            }),
            E::LowercaseFirstChar {
                parameter,
                indirect,
                ..
            } => map_known(self.param(st, parameter, *indirect), |s| {
                first_char(s, false)
            }),
            E::ReplaceSubstring {
                parameter,
                indirect,
                pattern: pat,
                replacement,
                match_kind,
            } => {
                let pv = self.param(st, parameter, *indirect);
                let pat = self.expand_pattern(st, pat);
                let with = self.expand_str(st, replacement.as_deref().unwrap_or(""));
                let (Some(pat), Some(with)) = (pat.known(), with.known()) else {
                    return PVal::One(Val::unknown("${…/…/…}", "pattern unknown"));
                };
                map_known(pv, |s| match match_kind {
                    SubstringMatchKind::Prefix => match pattern::strip_prefix(s, &pat, true) {
                        rest if rest.len() != s.len() || pattern::matches(&pat, "") => {
                            format!("{with}{rest}")
                        }
                        rest => rest,
                    },
                    SubstringMatchKind::Suffix => match pattern::strip_suffix(s, &pat, true) {
                        rest if rest.len() != s.len() => format!("{rest}{with}"),
                        rest => rest,
                    },
                    SubstringMatchKind::FirstOccurrence => pattern::replace(s, &pat, &with, false),
                    SubstringMatchKind::Anywhere => pattern::replace(s, &pat, &with, true),
                })
            }
            E::VariableNames {
                prefix,
                concatenate,
            } => {
                let names = st
                    .vars
                    .keys()
                    .filter(|k| k.starts_with(prefix.as_str()))
                    .map(Val::lit)
                    .collect();
                PVal::Many(names, *concatenate)
            }
            E::MemberKeys {
                variable_name,
                concatenate,
            } => {
                let n = match st.get(variable_name).map(|v| &v.value) {
                    Some(VarValue::Array(a)) => a.len(),
                    Some(VarValue::Scalar(_)) => 1,
                    None => 0,
                };
                PVal::Many(
                    (0..n).map(|i| Val::lit(i.to_string())).collect(),
                    *concatenate,
                )
            }
        }
        .tap_mode(mode)
    }

    fn use_default(
        &mut self,
        st: &mut State,
        pv: PVal,
        test: &ParameterTestType,
        default: Option<&str>,
        assign: Option<String>,
    ) -> PVal {
        let null_counts = matches!(test, ParameterTestType::UnsetOrNull);
        let take_default = match &pv {
            PVal::Unset => true,
            PVal::UnsetEnv(n) => {
                if default.unwrap_or("").is_empty() && assign.is_none() {
                    // `${VAR:-}` only guards against `set -u`: a raw read.
                    return PVal::One(unset_env(n));
                }
                st.assume(super::concat(&[n, " is not set (not in the image env)"]));
                true
            }
            PVal::One(v) => null_counts && v.is_known_empty() && !v.is_unknown(),
            PVal::Many(l, _) => l.is_empty(),
        };
        if !take_default {
            return pv;
        }
        let d = self.expand_str(st, default.unwrap_or(""));
        if let Some(n) = assign {
            st.set(&n, d.clone());
        }
        PVal::One(d)
    }

    fn alternative(
        &mut self,
        st: &mut State,
        pv: PVal,
        test: &ParameterTestType,
        alt: Option<&str>,
    ) -> PVal {
        let null_counts = matches!(test, ParameterTestType::UnsetOrNull);
        let set = match &pv {
            PVal::Unset => false,
            PVal::UnsetEnv(n) => {
                return PVal::One(Val::unknown(
                    format!("${{{n}+…}}"),
                    format!("env {n} not set in image"),
                ))
            }
            PVal::One(v) if null_counts && v.is_unknown() => {
                return PVal::One(Val::unknown("${…:+…}", v.why().unwrap_or_default()))
            }
            PVal::One(v) => !(null_counts && v.is_known_empty()),
            PVal::Many(l, _) => !l.is_empty(),
        };
        if set {
            PVal::One(self.expand_str(st, alt.unwrap_or("")))
        } else {
            PVal::One(Val::default())
        }
    }

    fn substring(
        &mut self,
        st: &mut State,
        p: &Parameter,
        pv: PVal,
        off: &str,
        len: Option<&str>,
    ) -> PVal {
        let off_v = self
            .expand_str(st, off)
            .known()
            .and_then(|t| arith::eval_text(st, &t, 0));
        let len_v = match len {
            Some(l) => self
                .expand_str(st, l)
                .known()
                .and_then(|t| arith::eval_text(st, &t, 0))
                .map(Some),
            None => Some(None),
        };
        let (Some(off), Some(len)) = (off_v, len_v) else {
            return PVal::One(Val::unknown("${…:…}", "offset unknown"));
        };
        match pv {
            PVal::Many(list, concat) => {
                let is_pos = matches!(
                    p,
                    Parameter::Special(SpecialParameter::AllPositionalParameters { .. })
                );
                let mut all = list;
                if is_pos {
                    all.insert(0, st.arg0.clone());
                }
                PVal::Many(slice(&all, off, len), concat)
            }
            other => map_known(other, |s| {
                let chars: Vec<char> = s.chars().collect();
                slice(&chars, off, len).into_iter().collect()
            }),
        }
    }
}
