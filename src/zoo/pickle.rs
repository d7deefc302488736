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

/// Deepest nesting of containers a pickle may build (a state dict nests a few levels; a value
/// nested deeper could not be dropped or cloned without a deep recursion).
pub const MAX_DEPTH: u32 = 256;

/// Most values a pickle may build, counting each copy a memo lookup makes (a few hundred
/// bytes of "billion laughs" memo lookups would otherwise build billions).
pub const MAX_VALUES: u64 = 1 << 24;

/// A value on the machine's stack with its nesting depth and its number of values.
struct Item {
    v: Value,
    depth: u32,
    size: u64,
}

impl Item {
    fn leaf(v: Value) -> Item {
        Item {
            v,
            depth: 0,
            size: 1,
        }
    }
}

/// The machine's state: its stack, marks and memo, and the budget of values built so far.
struct Machine {
    stack: Vec<Item>,
    marks: Vec<usize>,
    memo: std::collections::HashMap<u32, (Value, u32, u64)>,
    built: u64,
}

impl Machine {
    fn count(&mut self, size: u64) -> Result<()> {
        self.built = self.built.saturating_add(size);
        if self.built > MAX_VALUES {
            return Err(err(format!(
                "the pickle builds more than {MAX_VALUES} values (a pickle bomb?)"
            )));
        }
        Ok(())
    }

    fn push(&mut self, item: Item) -> Result<()> {
        if item.depth > MAX_DEPTH {
            return Err(err(format!("values nested deeper than {MAX_DEPTH} levels")));
        }
        self.stack.push(item);
        Ok(())
    }

    fn leaf(&mut self, v: Value) -> Result<()> {
        self.count(1)?;
        self.push(Item::leaf(v))
    }

    fn pop(&mut self) -> Result<Item> {
        self.stack.pop().ok_or_else(|| err("stack underflow"))
    }

    fn pop_mark(&mut self) -> Result<Vec<Item>> {
        let m = self.marks.pop().ok_or_else(|| err("MARK missing"))?;
        if m > self.stack.len() {
            return Err(err("corrupt MARK"));
        }
        Ok(self.stack.split_off(m))
    }

    /// A new container holding `items`, made by `make`.
    fn container(
        &mut self,
        items: Vec<Item>,
        make: impl FnOnce(Vec<Value>) -> Value,
    ) -> Result<()> {
        let (depth, size) = shape_of(&items);
        self.count(1)?;
        self.push(Item {
            v: make(items.into_iter().map(|i| i.v).collect()),
            depth,
            size,
        })
    }

    /// The stack's top, grown by `extra` (values added into it).
    fn top_grows(&mut self, extra: &[&Item]) -> Result<&mut Value> {
        let depth = extra.iter().map(|i| i.depth + 1).max().unwrap_or(0);
        let size: u64 = extra.iter().map(|i| i.size).sum();
        let top = self
            .stack
            .last_mut()
            .ok_or_else(|| err("stack underflow"))?;
        top.depth = top.depth.max(depth);
        top.size = top.size.saturating_add(size);
        if top.depth > MAX_DEPTH {
            return Err(err(format!("values nested deeper than {MAX_DEPTH} levels")));
        }
        Ok(&mut top.v)
    }

    fn memoize(&mut self, k: u32, what: &str) -> Result<()> {
        let top = self
            .stack
            .last()
            .ok_or_else(|| err(format!("{what} on empty stack")))?;
        let (depth, size) = (top.depth, top.size);
        self.count(size)?;
        let v = self
            .stack
            .last()
            .map(|t| t.v.clone())
            .unwrap_or(Value::None);
        self.memo.insert(k, (v, depth, size));
        Ok(())
    }

    fn get(&mut self, k: u32, what: &str) -> Result<()> {
        let &(_, depth, size) = self
            .memo
            .get(&k)
            .ok_or_else(|| err(format!("{what} of an unknown memo")))?;
        // Count the copy before making it.
        self.count(size)?;
        let v = self.memo[&k].0.clone();
        self.push(Item { v, depth, size })
    }
}

/// Depth and size of a container of `items`.
fn shape_of(items: &[Item]) -> (u32, u64) {
    let depth = items.iter().map(|i| i.depth + 1).max().unwrap_or(1);
    let size = items.iter().fold(1u64, |acc, i| acc.saturating_add(i.size));
    (depth, size)
}

fn pairs(items: Vec<Item>) -> Vec<(Value, Value)> {
    let mut out = Vec::with_capacity(items.len() / 2);
    let mut it = items.into_iter();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        out.push((k.v, v.v));
    }
    out
}

/// Decodes one pickle starting at `pos`; returns the value and the position after STOP.
/// Values nested deeper than [`MAX_DEPTH`] or more than [`MAX_VALUES`] of them are an error.
pub fn load(data: &[u8], pos: usize) -> Result<(Value, usize)> {
    let mut r = Reader { data, pos };
    let mut m = Machine {
        stack: Vec::new(),
        marks: Vec::new(),
        memo: Default::default(),
        built: 0,
    };
    loop {
        let op = r.u8()?;
        match op {
            0x80 => {
                r.u8()?; // PROTO
            }
            0x95 => {
                r.take(8)?; // FRAME
            }
            b'.' => return Ok((m.pop()?.v, r.pos)), // STOP
            b'(' => {
                // MARK
                if m.marks.len() as u64 > MAX_VALUES {
                    return Err(err("too many MARKs"));
                }
                m.marks.push(m.stack.len())
            }
            b'N' => m.leaf(Value::None)?,
            0x88 => m.leaf(Value::Bool(true))?,
            0x89 => m.leaf(Value::Bool(false))?,
            b'}' => m.leaf(Value::Dict(vec![]))?,
            b']' => m.leaf(Value::List(vec![]))?,
            b')' => m.leaf(Value::Tuple(vec![]))?,
            b'J' => {
                let v = r.u32()? as i32;
                m.leaf(Value::Int(v as i64))?;
            }
            b'K' => {
                let v = r.u8()?;
                m.leaf(Value::Int(v as i64))?;
            }
            b'M' => {
                let v = r.u16()?;
                m.leaf(Value::Int(v as i64))?;
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
                m.leaf(Value::Int(v))?;
            }
            b'G' => {
                let b = r.take(8)?;
                m.leaf(Value::Float(f64::from_be_bytes(
                    b.try_into().expect("8 bytes"),
                )))?;
            }
            b'X' | b'T' => {
                let n = r.u32()? as usize;
                let s = String::from_utf8_lossy(r.take(n)?).into_owned();
                m.leaf(Value::Str(s))?;
            }
            0x8c | b'U' => {
                let n = r.u8()? as usize;
                let s = String::from_utf8_lossy(r.take(n)?).into_owned();
                m.leaf(Value::Str(s))?;
            }
            b'C' => {
                let n = r.u8()? as usize;
                let b = r.take(n)?.to_vec();
                m.leaf(Value::Bytes(b))?;
            }
            b'B' => {
                let n = r.u32()? as usize;
                let b = r.take(n)?.to_vec();
                m.leaf(Value::Bytes(b))?;
            }
            b'c' => {
                let module = r.line()?;
                let name = r.line()?;
                m.leaf(Value::Global(module, name))?;
            }
            0x93 => {
                // STACK_GLOBAL
                let name = m.pop()?;
                let module = m.pop()?;
                m.leaf(Value::Global(
                    module.v.as_str().unwrap_or_default().to_string(),
                    name.v.as_str().unwrap_or_default().to_string(),
                ))?;
            }
            b'q' => {
                let k = r.u8()? as u32;
                m.memoize(k, "BINPUT")?;
            }
            b'r' => {
                let k = r.u32()?;
                m.memoize(k, "LONG_BINPUT")?;
            }
            0x94 => {
                let k = m.memo.len() as u32;
                m.memoize(k, "MEMOIZE")?;
            }
            b'h' => {
                let k = r.u8()? as u32;
                m.get(k, "BINGET")?;
            }
            b'j' => {
                let k = r.u32()?;
                m.get(k, "LONG_BINGET")?;
            }
            b't' => {
                let items = m.pop_mark()?;
                m.container(items, Value::Tuple)?;
            }
            0x85..=0x87 => {
                let n = (op - 0x84) as usize;
                if m.stack.len() < n {
                    return Err(err("stack underflow"));
                }
                let items = m.stack.split_off(m.stack.len() - n);
                m.container(items, Value::Tuple)?;
            }
            b'l' => {
                let items = m.pop_mark()?;
                m.container(items, Value::List)?;
            }
            b'd' => {
                let items = m.pop_mark()?;
                let (depth, size) = shape_of(&items);
                m.count(1)?;
                m.push(Item {
                    v: Value::Dict(pairs(items)),
                    depth,
                    size,
                })?;
            }
            b'a' => {
                let v = m.pop()?;
                match m.top_grows(&[&v])? {
                    Value::List(l) => l.push(v.v),
                    _ => return Err(err("APPEND to a non-list")),
                }
            }
            b'e' => {
                let items = m.pop_mark()?;
                let refs: Vec<&Item> = items.iter().collect();
                m.top_grows(&refs)?;
                match m.stack.last_mut().map(|t| &mut t.v) {
                    Some(Value::List(l)) => l.extend(items.into_iter().map(|i| i.v)),
                    _ => return Err(err("APPENDS to a non-list")),
                }
            }
            b's' => {
                let v = m.pop()?;
                let k = m.pop()?;
                match m.top_grows(&[&k, &v])? {
                    Value::Dict(d) => d.push((k.v, v.v)),
                    Value::Call(_, _, state) => {
                        let b = state.get_or_insert_with(|| Box::new(Value::Dict(vec![])));
                        if let Value::Dict(d) = b.as_mut() {
                            d.push((k.v, v.v));
                        }
                    }
                    _ => return Err(err("SETITEM on a non-dict")),
                }
            }
            b'u' => {
                let items = m.pop_mark()?;
                let refs: Vec<&Item> = items.iter().collect();
                m.top_grows(&refs)?;
                let pairs = pairs(items);
                match m.stack.last_mut().map(|t| &mut t.v) {
                    Some(Value::Dict(d)) => d.extend(pairs),
                    // An OrderedDict built by REDUCE then filled by SETITEMS.
                    Some(Value::Call(_, args, _)) => {
                        args.push(Value::Dict(pairs));
                    }
                    _ => return Err(err("SETITEMS on a non-dict")),
                }
            }
            b'R' => {
                let args = m.pop()?;
                let f = m.pop()?;
                let (depth, size) = (
                    args.depth.max(f.depth) + 1,
                    args.size.saturating_add(f.size).saturating_add(1),
                );
                let args = match args.v {
                    Value::Tuple(a) => a,
                    other => vec![other],
                };
                m.count(1)?;
                m.push(Item {
                    v: Value::Call(Box::new(f.v), args, None),
                    depth,
                    size,
                })?;
            }
            0x81 => {
                // NEWOBJ
                let args = m.pop()?;
                let cls = m.pop()?;
                let (depth, size) = (
                    args.depth.max(cls.depth) + 1,
                    args.size.saturating_add(cls.size).saturating_add(1),
                );
                m.count(1)?;
                m.push(Item {
                    v: Value::Call(
                        Box::new(cls.v),
                        args.v.items().map(<[Value]>::to_vec).unwrap_or_default(),
                        None,
                    ),
                    depth,
                    size,
                })?;
            }
            b'b' => {
                let state = m.pop()?;
                let grow = m
                    .stack
                    .last()
                    .is_some_and(|t| matches!(t.v, Value::Call(..)));
                if m.stack.is_empty() {
                    return Err(err("BUILD on an empty stack"));
                }
                if grow {
                    if let Value::Call(_, _, s) = m.top_grows(&[&state])? {
                        *s = Some(Box::new(state.v));
                    }
                }
            }
            b'Q' => {
                let pid = m.pop()?;
                m.count(1)?;
                m.push(Item {
                    depth: pid.depth + 1,
                    size: pid.size.saturating_add(1),
                    v: Value::Persistent(Box::new(pid.v)),
                })?;
            }
            b'0' => {
                m.pop()?;
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

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        // 1,000,000 nested empty lists: ']' then (']' 'a')... appends each into the next.
        let mut data = b"\x80\x02".to_vec();
        for _ in 0..1_000_000 {
            data.extend_from_slice(b"(");
        }
        data.extend_from_slice(b"]");
        for _ in 0..1_000_000 {
            data.extend_from_slice(b"l");
        }
        data.push(b'.');
        let e = load(&data, 0).unwrap_err();
        assert!(e.to_string().contains("nested deeper"), "{e}");
        // The same with tuples of one.
        let mut data = b"\x80\x02N".to_vec();
        data.extend(std::iter::repeat_n(0x85u8, 200_000));
        data.push(b'.');
        assert!(load(&data, 0)
            .unwrap_err()
            .to_string()
            .contains("nested deeper"));
    }

    #[test]
    fn billion_laughs_is_refused_quickly() {
        // x = [None]; then 64 times: x = [x, x] through the memo (224 bytes build 2^64 values).
        let mut data = b"\x80\x02]q\x00Na".to_vec();
        for i in 0..64u8 {
            data.extend_from_slice(&[b'h', i, b'h', i, 0x86, b'q', i + 1]);
        }
        data.push(b'.');
        let t = std::time::Instant::now();
        let e = load(&data, 0).unwrap_err();
        assert!(e.to_string().contains("pickle bomb"), "{e}");
        assert!(t.elapsed().as_secs() < 10);
    }
}
