//! Shell arithmetic (XCU 2.6.4, bash `(( ))`) over abstract values: a result is known only
//! when every variable it reads is known and numeric.
//!
//! Division by zero and overflow give "unknown" rather than an error; assignments inside
//! expressions update the path's variables.

use crate::parse::{self, ast};
use crate::value::Val;

use super::state::{State, VarValue};

/// Evaluates arithmetic text; `None` when it depends on unknown values or does not parse.
pub fn eval_text(st: &mut State, text: &str, depth: usize) -> Option<i64> {
    let expr = parse::parse_arith(text.trim()).ok()?;
    eval(st, &expr, depth)
}

fn var_num(st: &mut State, name: &str, depth: usize) -> Option<i64> {
    let v = match st.get(name) {
        Some(v) => v.scalar(),
        None => return Some(0),
    };
    let s = v.known()?;
    let s = s.trim();
    if s.is_empty() {
        return Some(0);
    }
    if let Ok(n) = s.parse::<i64>() {
        return Some(n);
    }
    // A variable holding an expression (bash evaluates it recursively).
    if depth < 8 {
        return eval_text(st, s, depth + 1);
    }
    None
}

fn target_get(st: &mut State, t: &ast::ArithmeticTarget, depth: usize) -> Option<i64> {
    match t {
        ast::ArithmeticTarget::Variable(n) => var_num(st, n, depth),
        ast::ArithmeticTarget::ArrayElement(n, idx) => {
            let i = usize::try_from(eval(st, idx, depth)?).ok()?;
            match st.get(n).map(|v| v.value.clone()) {
                Some(VarValue::Array(a)) => a.get(i).and_then(|v| v.known()?.trim().parse().ok()),
                Some(VarValue::Scalar(v)) if i == 0 => v.known()?.trim().parse().ok(),
                _ => Some(0),
            }
        }
    }
}

fn target_set(st: &mut State, t: &ast::ArithmeticTarget, v: i64) {
    if let ast::ArithmeticTarget::Variable(n) = t {
        st.set(n, Val::lit(v.to_string()));
    }
}

/// Evaluates a parsed expression.
pub fn eval(st: &mut State, e: &ast::ArithmeticExpr, depth: usize) -> Option<i64> {
    use ast::ArithmeticExpr as E;
    match e {
        E::Literal(n) => Some(*n),
        E::Reference(t) => target_get(st, t, depth),
        E::UnaryOp(op, x) => {
            let x = eval(st, x, depth)?;
            Some(match op {
                ast::UnaryOperator::UnaryPlus => x,
                ast::UnaryOperator::UnaryMinus => x.checked_neg()?,
                ast::UnaryOperator::BitwiseNot => !x,
                ast::UnaryOperator::LogicalNot => i64::from(x == 0),
            })
        }
        E::BinaryOp(op, a, b) => binary(st, op, a, b, depth),
        E::Conditional(c, a, b) => {
            if eval(st, c, depth)? != 0 {
                eval(st, a, depth)
            } else {
                eval(st, b, depth)
            }
        }
        E::Assignment(t, x) => {
            let v = eval(st, x, depth)?;
            target_set(st, t, v);
            Some(v)
        }
        E::BinaryAssignment(op, t, x) => {
            let cur = target_get(st, t, depth)?;
            let rhs = eval(st, x, depth)?;
            let v = apply(op, cur, rhs)?;
            target_set(st, t, v);
            Some(v)
        }
        E::UnaryAssignment(op, t) => {
            let cur = target_get(st, t, depth)?;
            use ast::UnaryAssignmentOperator as U;
            let (new, ret) = match op {
                U::PrefixIncrement => (cur.checked_add(1)?, cur.checked_add(1)?),
                U::PrefixDecrement => (cur.checked_sub(1)?, cur.checked_sub(1)?),
                U::PostfixIncrement => (cur.checked_add(1)?, cur),
                U::PostfixDecrement => (cur.checked_sub(1)?, cur),
            };
            target_set(st, t, new);
            Some(ret)
        }
    }
}

fn binary(
    st: &mut State,
    op: &ast::BinaryOperator,
    a: &ast::ArithmeticExpr,
    b: &ast::ArithmeticExpr,
    depth: usize,
) -> Option<i64> {
    use ast::BinaryOperator as B;
    let x = eval(st, a, depth)?;
    match op {
        B::LogicalAnd if x == 0 => return Some(0),
        B::LogicalOr if x != 0 => return Some(1),
        _ => {}
    }
    let y = eval(st, b, depth)?;
    apply(op, x, y)
}

fn apply(op: &ast::BinaryOperator, x: i64, y: i64) -> Option<i64> {
    use ast::BinaryOperator as B;
    Some(match op {
        B::Power => x.checked_pow(u32::try_from(y).ok()?)?,
        B::Multiply => x.checked_mul(y)?,
        B::Divide => x.checked_div(y)?,
        B::Modulo => x.checked_rem(y)?,
        B::Comma => y,
        B::Add => x.checked_add(y)?,
        B::Subtract => x.checked_sub(y)?,
        B::ShiftLeft => x.checked_shl(u32::try_from(y).ok()?)?,
        B::ShiftRight => x.checked_shr(u32::try_from(y).ok()?)?,
        B::LessThan => i64::from(x < y),
        B::LessThanOrEqualTo => i64::from(x <= y),
        B::GreaterThan => i64::from(x > y),
        B::GreaterThanOrEqualTo => i64::from(x >= y),
        B::Equals => i64::from(x == y),
        B::NotEquals => i64::from(x != y),
        B::BitwiseAnd => x & y,
        B::BitwiseXor => x ^ y,
        B::BitwiseOr => x | y,
        B::LogicalAnd => i64::from(x != 0 && y != 0),
        B::LogicalOr => i64::from(x != 0 || y != 0),
    })
}
