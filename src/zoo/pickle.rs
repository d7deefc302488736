//! A small Python pickle reader: the subset of opcodes `torch.save` writes (protocol 2), enough
//! to read a PyTorch state dict without Python. Objects are built as plain [`Value`]s; class
//! constructors (`GLOBAL` + `REDUCE`) become [`Value::Call`] for the caller to interpret.

use crate::error::{Error, Result};

/// A decoded pickle value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `None`.
    None,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A text or byte string.
    Str(String),
    /// Raw bytes.
    Bytes(Vec<u8>),
    /// A tuple.
    Tuple(Vec<Value>),
    /// A list.
    List(Vec<Value>),
    /// A dict, in insertion order.
    Dict(Vec<(Value, Value)>),
    /// `module.name`, from GLOBAL.
    Global(String, String),
    /// A call of a global with arguments (REDUCE), with any BUILD state.
    Call(Box<Value>, Vec<Value>, Option<Box<Value>>),
    /// A persistent id (BINPERSID), resolved by the caller.
    Persistent(Box<Value>),
}

impl Value {
    /// The integer, if this is one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Bool(b) => Some(*b as i64),
            _ => None,
        }
    }
    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
    /// Tuple or list items.
    pub fn items(&self) -> Option<&[Value]> {
        match self {
            Value::Tuple(v) | Value::List(v) => Some(v),
            _ => None,
        }
    }
}

fn err(msg: impl Into<String>) -> Error {
    Error::weights_file("<pickle>", msg.into())
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.data.len())
            .ok_or_else(|| err("truncated pickle"))?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn line(&mut self) -> Result<String> {
        let rest = &self.data[self.pos..];
        let n = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| err("unterminated line"))?;
        let s = String::from_utf8_lossy(&rest[..n]).into_owned();
        self.pos += n + 1;
        Ok(s)
    }
}

fn pop_mark(stack: &mut Vec<Value>, marks: &mut Vec<usize>) -> Result<Vec<Value>> {
    let m = marks.pop().ok_or_else(|| err("MARK missing"))?;
    if m > stack.len() {
        return Err(err("corrupt MARK"));
    }
    Ok(stack.split_off(m))
}

/// Decodes one pickle starting at `pos`; returns the value and the position after STOP.
pub fn load(data: &[u8], pos: usize) -> Result<(Value, usize)> {
    let mut r = Reader { data, pos };
    let mut stack: Vec<Value> = Vec::new();
    let mut marks: Vec<usize> = Vec::new();
    let mut memo: std::collections::HashMap<u32, Value> = Default::default();
    let pop = |stack: &mut Vec<Value>| stack.pop().ok_or_else(|| err("stack underflow"));
    loop {
        let op = r.u8()?;
        match op {
            0x80 => {
                r.u8()?; // PROTO
            }
            0x95 => {
                r.take(8)?; // FRAME
            }
            b'.' => return Ok((pop(&mut stack)?, r.pos)), // STOP
            b'(' => marks.push(stack.len()),              // MARK
            b'N' => stack.push(Value::None),
            0x88 => stack.push(Value::Bool(true)),
            0x89 => stack.push(Value::Bool(false)),
            b'}' => stack.push(Value::Dict(vec![])),
            b']' => stack.push(Value::List(vec![])),
            b')' => stack.push(Value::Tuple(vec![])),
            b'J' => {
                let v = r.u32()? as i32;
                stack.push(Value::Int(v as i64));
            }
            b'K' => {
                let v = r.u8()?;
                stack.push(Value::Int(v as i64));
            }
            b'M' => {
                let v = r.u16()?;
                stack.push(Value::Int(v as i64));
            }
            0x8a => {
                // LONG1
                let n = r.u8()? as usize;
                let b = r.take(n)?;
                // Integers wider than 64 bits (torch's magic number) keep their low 64 bits.
                let mut v: i64 = 0;
                for (i, &x) in b.iter().take(8).enumerate() {
                    v |= (x as i64) << (8 * i);
                }
                if n > 0 && n < 8 && b[n - 1] & 0x80 != 0 {
                    v -= 1i64 << (8 * n);
                }
                stack.push(Value::Int(v));
            }
            b'G' => {
                let b = r.take(8)?;
                stack.push(Value::Float(f64::from_be_bytes(
                    b.try_into().expect("8 bytes"),
                )));
            }
            b'X' => {
                let n = r.u32()? as usize;
                let s = String::from_utf8_lossy(r.take(n)?).into_owned();
                stack.push(Value::Str(s));
            }
            0x8c => {
                let n = r.u8()? as usize;
                let s = String::from_utf8_lossy(r.take(n)?).into_owned();
                stack.push(Value::Str(s));
            }
            b'U' => {
                let n = r.u8()? as usize;
                let s = String::from_utf8_lossy(r.take(n)?).into_owned();
                stack.push(Value::Str(s));
            }
            b'T' => {
                let n = r.u32()? as usize;
                let s = String::from_utf8_lossy(r.take(n)?).into_owned();
                stack.push(Value::Str(s));
            }
            b'C' => {
                let n = r.u8()? as usize;
                stack.push(Value::Bytes(r.take(n)?.to_vec()));
            }
            b'B' => {
                let n = r.u32()? as usize;
                stack.push(Value::Bytes(r.take(n)?.to_vec()));
            }
            b'c' => {
                let module = r.line()?;
                let name = r.line()?;
                stack.push(Value::Global(module, name));
            }
            0x93 => {
                // STACK_GLOBAL
                let name = pop(&mut stack)?;
                let module = pop(&mut stack)?;
                stack.push(Value::Global(
                    module.as_str().unwrap_or_default().to_string(),
                    name.as_str().unwrap_or_default().to_string(),
                ));
            }
            b'q' => {
                let k = r.u8()? as u32;
                memo.insert(
                    k,
                    stack
                        .last()
                        .cloned()
                        .ok_or_else(|| err("BINPUT on empty stack"))?,
                );
            }
            b'r' => {
                let k = r.u32()?;
                memo.insert(
                    k,
                    stack
                        .last()
                        .cloned()
                        .ok_or_else(|| err("LONG_BINPUT on empty stack"))?,
                );
            }
            0x94 => {
                let k = memo.len() as u32;
                memo.insert(
                    k,
                    stack
                        .last()
                        .cloned()
                        .ok_or_else(|| err("MEMOIZE on empty stack"))?,
                );
            }
            b'h' => {
                let k = r.u8()? as u32;
                stack.push(
                    memo.get(&k)
                        .cloned()
                        .ok_or_else(|| err("BINGET of an unknown memo"))?,
                );
            }
            b'j' => {
                let k = r.u32()?;
                stack.push(
                    memo.get(&k)
                        .cloned()
                        .ok_or_else(|| err("LONG_BINGET of an unknown memo"))?,
                );
            }
            b't' => {
                let items = pop_mark(&mut stack, &mut marks)?;
                stack.push(Value::Tuple(items));
            }
            0x85..=0x87 => {
                let n = (op - 0x84) as usize;
                if stack.len() < n {
                    return Err(err("stack underflow"));
                }
                let items = stack.split_off(stack.len() - n);
                stack.push(Value::Tuple(items));
            }
            b'l' => {
                let items = pop_mark(&mut stack, &mut marks)?;
                stack.push(Value::List(items));
            }
            b'd' => {
                let items = pop_mark(&mut stack, &mut marks)?;
                let mut d = Vec::new();
                for pair in items.chunks(2) {
                    if let [k, v] = pair {
                        d.push((k.clone(), v.clone()));
                    }
                }
                stack.push(Value::Dict(d));
            }
            b'a' => {
                let v = pop(&mut stack)?;
                match stack.last_mut() {
                    Some(Value::List(l)) => l.push(v),
                    _ => return Err(err("APPEND to a non-list")),
                }
            }
            b'e' => {
                let items = pop_mark(&mut stack, &mut marks)?;
                match stack.last_mut() {
                    Some(Value::List(l)) => l.extend(items),
                    _ => return Err(err("APPENDS to a non-list")),
                }
            }
            b's' => {
                let v = pop(&mut stack)?;
                let k = pop(&mut stack)?;
                match stack.last_mut() {
                    Some(Value::Dict(d)) => d.push((k, v)),
                    Some(Value::Call(_, _, state)) => {
                        state.get_or_insert_with(|| Box::new(Value::Dict(vec![])));
                        if let Some(b) = state {
                            if let Value::Dict(d) = b.as_mut() {
                                d.push((k, v));
                            }
                        }
                    }
                    _ => return Err(err("SETITEM on a non-dict")),
                }
            }
            b'u' => {
                let items = pop_mark(&mut stack, &mut marks)?;
                let pairs: Vec<(Value, Value)> = items
                    .chunks(2)
                    .filter_map(|p| match p {
                        [k, v] => Some((k.clone(), v.clone())),
                        _ => None,
                    })
                    .collect();
                match stack.last_mut() {
                    Some(Value::Dict(d)) => d.extend(pairs),
                    // An OrderedDict built by REDUCE then filled by SETITEMS.
                    Some(Value::Call(_, args, _)) => {
                        args.push(Value::Dict(pairs));
                    }
                    _ => return Err(err("SETITEMS on a non-dict")),
                }
            }
            b'R' => {
                let args = pop(&mut stack)?;
                let f = pop(&mut stack)?;
                let args = match args {
                    Value::Tuple(a) => a,
                    other => vec![other],
                };
                stack.push(Value::Call(Box::new(f), args, None));
            }
            0x81 => {
                // NEWOBJ
                let args = pop(&mut stack)?;
                let cls = pop(&mut stack)?;
                stack.push(Value::Call(
                    Box::new(cls),
                    args.items().map(<[Value]>::to_vec).unwrap_or_default(),
                    None,
                ));
            }
            b'b' => {
                let state = pop(&mut stack)?;
                match stack.last_mut() {
                    Some(Value::Call(_, _, s)) => *s = Some(Box::new(state)),
                    Some(_) => {}
                    None => return Err(err("BUILD on an empty stack")),
                }
            }
            b'Q' => {
                let pid = pop(&mut stack)?;
                stack.push(Value::Persistent(Box::new(pid)));
            }
            b'0' => {
                pop(&mut stack)?;
            }
            other => {
                return Err(err(format!(
                    "unsupported pickle opcode 0x{other:02x} at byte {}",
                    r.pos - 1
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_small_protocol_2_pickle() {
        // pickle.dumps({'a': (1, 2.5, 'x'), 'b': [True, None]}, protocol=2)
        let data: &[u8] = b"\x80\x02}q\x00(X\x01\x00\x00\x00aq\x01K\x01G@\x04\x00\x00\x00\x00\x00\x00X\x01\x00\x00\x00xq\x02\x87q\x03X\x01\x00\x00\x00bq\x04]q\x05(\x88Neu.";
        let (v, end) = load(data, 0).unwrap();
        assert_eq!(end, data.len());
        let Value::Dict(d) = v else { panic!() };
        assert_eq!(d[0].0, Value::Str("a".into()));
        assert_eq!(
            d[0].1,
            Value::Tuple(vec![
                Value::Int(1),
                Value::Float(2.5),
                Value::Str("x".into())
            ])
        );
        assert_eq!(d[1].1, Value::List(vec![Value::Bool(true), Value::None]));
        assert!(load(&data[..10], 0).is_err());
    }
}
