// A restricted interpreter of the pickles torch.save writes as data.pkl. It runs nothing: it builds
// plain data (dicts, lists, tuples, strings, numbers) and only the few torch objects a state dict
// holds, as inert records: storages (persistent ids) and tensors (_rebuild_tensor_v2 calls). GLOBAL
// and STACK_GLOBAL may name only those; any other name is refused the moment it is read, as is every
// opcode that could reach a callable another way (INST, OBJ, EXT*). The allowlist follows PyTorch's
// own torch/_weights_only_unpickler.py, narrowed to what a state dict needs.
import { ServeError, type ErrorCode } from '../../errors.ts';
import type { StoredDtype } from './checkpoint.ts';

/** Opcodes run per pickle: a real state dict needs ~25 per tensor; this bounds a hostile one's memory. */
export const MAX_PICKLE_OPS = 8_000_000;
/** Dimensions of one tensor (torch allows 64). */
const MAX_DIMS = 64;
/** Length of a GLOBAL's module or name line. */
const MAX_NAME = 1024;

export class PyTuple {
  constructor(readonly items: readonly Value[]) {}
}
export class PyList {
  constructor(readonly items: Value[] = []) {}
}
export class PyDict {
  readonly items = new Map<DictKey, Value>();
}

type Role =
  | { kind: 'ordered_dict' }
  | { kind: 'rebuild_tensor'; version: 1 | 2 }
  | { kind: 'rebuild_parameter'; withState: boolean }
  | { kind: 'storage'; dtype: StoredDtype }
  | { kind: 'dtype'; dtype: StoredDtype };

/** An allowed global, as a name and what it stands for; never a function. */
export class PyGlobal {
  constructor(
    readonly name: string,
    readonly role: Role,
  ) {}
}

/** A storage's persistent id: the archive entry `data/<key>` holding `numel` elements of `dtype`. */
export class StorageRef {
  constructor(
    readonly key: string,
    readonly dtype: StoredDtype,
    readonly numel: number,
  ) {}
}

/** A tensor view of a storage, in elements (what _rebuild_tensor_v2 takes). */
export class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly shape: readonly number[],
    readonly stride: readonly number[],
  ) {}
}

export type DictKey = string | number | bigint | boolean | null;
export type Value = DictKey | Uint8Array | PyTuple | PyList | PyDict | PyGlobal | StorageRef | TensorRef;

// Storage classes torch.save names in persistent ids (torch/storage.py `_LegacyStorage` subclasses).
const STORAGES: Record<string, StoredDtype> = {
  FloatStorage: 'F32',
  HalfStorage: 'F16',
  BFloat16Storage: 'BF16',
  DoubleStorage: 'F64',
  LongStorage: 'I64',
  IntStorage: 'I32',
  ShortStorage: 'I16',
  CharStorage: 'I8',
  ByteStorage: 'U8',
  BoolStorage: 'BOOL',
};
// dtypes pickle as `torch.<name>` globals (torch.dtype.__reduce__ returns its name).
const DTYPES: Record<string, StoredDtype> = {
  float32: 'F32',
  float16: 'F16',
  bfloat16: 'BF16',
  float64: 'F64',
  int64: 'I64',
  int32: 'I32',
  int16: 'I16',
  int8: 'I8',
  uint8: 'U8',
  bool: 'BOOL',
};

const ALLOWED = new Map<string, Role>([
  ['collections.OrderedDict', { kind: 'ordered_dict' }],
  ['torch._utils._rebuild_tensor', { kind: 'rebuild_tensor', version: 1 }],
  ['torch._utils._rebuild_tensor_v2', { kind: 'rebuild_tensor', version: 2 }],
  ['torch._utils._rebuild_parameter', { kind: 'rebuild_parameter', withState: false }],
  ['torch._utils._rebuild_parameter_with_state', { kind: 'rebuild_parameter', withState: true }],
  // Untyped storages hold bytes; torch loads them as uint8.
  ['torch.UntypedStorage', { kind: 'storage', dtype: 'U8' }],
  ['torch.storage.UntypedStorage', { kind: 'storage', dtype: 'U8' }],
  ...Object.entries(STORAGES).map(([name, dtype]): [string, Role] => [
    `torch.${name}`,
    { kind: 'storage', dtype },
  ]),
  ...Object.entries(DTYPES).map(([name, dtype]): [string, Role] => [
    `torch.${name}`,
    { kind: 'dtype', dtype },
  ]),
]);

/**
 * Names torch's own weights-only loader accepts but this reader does not build (quantized, sparse,
 * meta or subclassed tensors, other storages and dtypes): safe, but not convertible.
 */
const TORCH_ALLOWS = new Set([
  'torch.Size',
  'torch.Tensor',
  'torch.device',
  'torch.nn.parameter.Parameter',
  'torch.serialization._get_layout',
  'collections.Counter',
  '_codecs.encode',
  'builtins.bytearray',
  'builtins.set',
  'builtins.complex',
]);
const isTorchUnsupported = (name: string): boolean =>
  TORCH_ALLOWS.has(name) ||
  /^torch\._(?:utils|tensor)\._rebuild_\w+$/.test(name) ||
  /^torch\.(?:storage\.)?\w+Storage$/.test(name) ||
  /^torch\.(?:u?int\d+|float\d+\w*|complex\d+|c?q?u?int\w+|per_\w+)$/.test(name);

const OPCODE_NAMES: Record<number, string> = {
  0x28: 'MARK',
  0x2e: 'STOP',
  0x30: 'POP',
  0x31: 'POP_MARK',
  0x32: 'DUP',
  0x46: 'FLOAT',
  0x49: 'INT',
  0x4a: 'BININT',
  0x4b: 'BININT1',
  0x4c: 'LONG',
  0x4d: 'BININT2',
  0x4e: 'NONE',
  0x50: 'PERSID',
  0x51: 'BINPERSID',
  0x52: 'REDUCE',
  0x53: 'STRING',
  0x54: 'BINSTRING',
  0x55: 'SHORT_BINSTRING',
  0x56: 'UNICODE',
  0x58: 'BINUNICODE',
  0x61: 'APPEND',
  0x62: 'BUILD',
  0x63: 'GLOBAL',
  0x64: 'DICT',
  0x7d: 'EMPTY_DICT',
  0x65: 'APPENDS',
  0x67: 'GET',
  0x68: 'BINGET',
  0x69: 'INST',
  0x6a: 'LONG_BINGET',
  0x6c: 'LIST',
  0x5d: 'EMPTY_LIST',
  0x6f: 'OBJ',
  0x70: 'PUT',
  0x71: 'BINPUT',
  0x72: 'LONG_BINPUT',
  0x73: 'SETITEM',
  0x74: 'TUPLE',
  0x29: 'EMPTY_TUPLE',
  0x75: 'SETITEMS',
  0x47: 'BINFLOAT',
  0x80: 'PROTO',
  0x81: 'NEWOBJ',
  0x82: 'EXT1',
  0x83: 'EXT2',
  0x84: 'EXT4',
  0x85: 'TUPLE1',
  0x86: 'TUPLE2',
  0x87: 'TUPLE3',
  0x88: 'NEWTRUE',
  0x89: 'NEWFALSE',
  0x8a: 'LONG1',
  0x8b: 'LONG4',
  0x42: 'BINBYTES',
  0x43: 'SHORT_BINBYTES',
  0x8c: 'SHORT_BINUNICODE',
  0x8d: 'BINUNICODE8',
  0x8e: 'BINBYTES8',
  0x8f: 'EMPTY_SET',
  0x90: 'ADDITEMS',
  0x91: 'FROZENSET',
  0x92: 'NEWOBJ_EX',
  0x93: 'STACK_GLOBAL',
  0x94: 'MEMOIZE',
  0x95: 'FRAME',
  0x96: 'BYTEARRAY8',
  0x97: 'NEXT_BUFFER',
  0x98: 'READONLY_BUFFER',
};

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** What a value is, for messages. */
function describe(value: Value): string {
  if (value === null) return 'None';
  if (value instanceof PyGlobal) return value.name;
  if (value instanceof PyTuple) return 'a tuple';
  if (value instanceof PyList) return 'a list';
  if (value instanceof PyDict) return 'a dict';
  if (value instanceof StorageRef) return 'a storage';
  if (value instanceof TensorRef) return 'a tensor';
  if (value instanceof Uint8Array) return 'bytes';
  return `a ${typeof value}`;
}

/** At most 200 characters of an attacker's string, for a message. */
const clip = (text: string): string => (text.length > 200 ? `${text.slice(0, 200)}...` : text);

const isCount = (value: Value): value is number =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

class Unpickler {
  private pos = 0;
  /** Where the current opcode starts, for messages. */
  private at = 0;
  private stack: Value[] = [];
  private readonly marks: Value[][] = [];
  private readonly memo = new Map<number, Value>();
  private readonly storages = new Map<string, StorageRef>();
  private readonly view: DataView;

  constructor(
    private readonly data: Uint8Array,
    private readonly label: string,
    private readonly entry: string,
  ) {
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }

  private fail(code: ErrorCode, message: string, details: Record<string, unknown> = {}): ServeError {
    return new ServeError(code, `${this.label}: ${this.entry} at byte ${this.at}: ${message}`, {
      file: this.label,
      entry: this.entry,
      offset: this.at,
      ...details,
    });
  }

  private bad(message: string, details?: Record<string, unknown>): ServeError {
    return this.fail('bad_checkpoint', message, details);
  }

  private take(n: number): number {
    if (n > this.data.length - this.pos) throw this.bad('the pickle ends early (truncated)');
    const start = this.pos;
    this.pos += n;
    return start;
  }

  private bytes(n: number): Uint8Array {
    const start = this.take(n);
    return this.data.subarray(start, start + n);
  }

  private u8 = (): number => this.view.getUint8(this.take(1));
  private u16 = (): number => this.view.getUint16(this.take(2), true);
  private u32 = (): number => this.view.getUint32(this.take(4), true);

  private u64(): number {
    const value = this.view.getBigUint64(this.take(8), true);
    // Any length past the pickle's end fails in take(); clamp so the comparison stays exact.
    return value > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(value);
  }

  private text(n: number): string {
    try {
      return utf8.decode(this.bytes(n));
    } catch {
      throw this.bad('a string is not valid UTF-8');
    }
  }

  /** A GLOBAL or INST operand: text up to a newline. */
  private line(): string {
    const end = this.data.indexOf(0x0a, this.pos);
    if (end < 0) throw this.bad('the pickle ends early (truncated)');
    if (end - this.pos > MAX_NAME) throw this.bad(`a global name is over ${MAX_NAME} bytes`);
    const text = this.text(end - this.pos);
    this.pos += 1;
    return text;
  }

  private push(value: Value): void {
    this.stack.push(value);
  }

  private pop(): Value {
    if (this.stack.length === 0) throw this.bad('stack underflow');
    return this.stack.pop() as Value;
  }

  private top(): Value {
    if (this.stack.length === 0) throw this.bad('stack underflow');
    return this.stack[this.stack.length - 1] as Value;
  }

  private popMark(): Value[] {
    const items = this.stack;
    const below = this.marks.pop();
    if (!below) throw this.bad('no MARK to pop to');
    this.stack = below;
    return items;
  }

  private key(value: Value): DictKey {
    if (value === null || ['string', 'number', 'bigint', 'boolean'].includes(typeof value))
      return value as DictKey;
    throw this.bad(`a dict key is ${describe(value)}, which a state dict does not use`);
  }

  private setItems(dict: Value, items: readonly Value[]): void {
    if (!(dict instanceof PyDict)) throw this.bad(`SETITEM on ${describe(dict)}, not a dict`);
    if (items.length % 2 !== 0) throw this.bad('SETITEMS with an odd number of items');
    for (let i = 0; i < items.length; i += 2)
      dict.items.set(this.key(items[i] as Value), items[i + 1] as Value);
  }

  private global(module: string, name: string): PyGlobal {
    const full = `${module}.${name}`;
    const role = ALLOWED.get(full);
    if (role) return new PyGlobal(full, role);
    if (isTorchUnsupported(full)) {
      throw this.fail(
        'unsupported_checkpoint',
        `the pickle uses ${clip(full)}, which hubserve does not convert (quantized, sparse or other ` +
          `special tensors); save a plain state dict or convert it to safetensors`,
        { global: clip(full) },
      );
    }
    throw this.unsafeGlobal(full);
  }

  private unsafeGlobal(full: string, how = 'names'): ServeError {
    return this.fail(
      'unsafe_checkpoint',
      `the pickle ${how} ${clip(full)}, which is not part of a state dict (tensors, storages, ` +
        `OrderedDict); refused, and nothing in the file was run`,
      { global: clip(full) },
    );
  }

  private unsafeCall(what: string): ServeError {
    return this.fail(
      'unsafe_checkpoint',
      `the pickle calls ${clip(what)}, which a state dict never does; refused, and nothing in the file was run`,
      { global: clip(what) },
    );
  }

  private ints(value: Value, what: string): number[] {
    if (!(value instanceof PyTuple) || value.items.length > MAX_DIMS || !value.items.every(isCount)) {
      throw this.bad(`a tensor's ${what} is ${describe(value)}, not a tuple of at most ${MAX_DIMS} counts`);
    }
    return value.items as number[];
  }

  private tensor(args: readonly Value[], version: 1 | 2): TensorRef {
    const arity = version === 1 ? [4] : [6, 7];
    if (!arity.includes(args.length)) throw this.bad(`_rebuild_tensor with ${args.length} arguments`);
    // The arity is checked above, so the first four are present.
    const [storage, offset, size, stride] = args as readonly [Value, Value, Value, Value, ...Value[]];
    if (!(storage instanceof StorageRef))
      throw this.bad(`a tensor is built on ${describe(storage)}, not a storage`);
    if (!isCount(offset)) throw this.bad(`a tensor's storage offset is ${describe(offset)}, not a count`);
    const shape = this.ints(size, 'size');
    const strides = this.ints(stride, 'stride');
    if (shape.length !== strides.length)
      throw this.bad(`a tensor has ${shape.length} sizes but ${strides.length} strides`);
    return new TensorRef(storage, offset, shape, strides);
  }

  private reduce(callable: Value, args: Value): Value {
    if (!(callable instanceof PyGlobal)) throw this.unsafeCall(describe(callable));
    if (!(args instanceof PyTuple)) throw this.bad(`REDUCE arguments are ${describe(args)}, not a tuple`);
    const { role } = callable;
    switch (role.kind) {
      case 'ordered_dict': {
        const dict = new PyDict();
        const [pairs, ...rest] = args.items;
        if (rest.length > 0) throw this.bad(`OrderedDict called with ${args.items.length} arguments`);
        if (pairs === undefined) return dict;
        if (!(pairs instanceof PyList || pairs instanceof PyTuple)) {
          throw this.bad(`OrderedDict called with ${describe(pairs)}`);
        }
        for (const pair of pairs.items) {
          if (!(pair instanceof PyTuple || pair instanceof PyList) || pair.items.length !== 2) {
            throw this.bad('OrderedDict called with items that are not pairs');
          }
          dict.items.set(this.key(pair.items[0] as Value), pair.items[1] as Value);
        }
        return dict;
      }
      case 'rebuild_tensor':
        return this.tensor(args.items, role.version);
      case 'rebuild_parameter': {
        // A Parameter is its data; requires_grad, hooks and Python attributes do not matter here.
        const [data] = args.items;
        if (args.items.length !== (role.withState ? 4 : 3) || !(data instanceof TensorRef)) {
          throw this.bad(`${callable.name} called with other than a tensor and its flags`);
        }
        return data;
      }
      case 'storage':
      case 'dtype':
        throw this.unsafeCall(callable.name);
    }
  }

  /** BINPERSID: torch's ('storage', storage_type, key, location, numel). */
  private persistent(pid: Value): StorageRef {
    const items = pid instanceof PyTuple ? pid.items : [];
    const [kind, type, rawKey, location, numel] = items;
    const asText = (value: Value | undefined): Value | undefined =>
      value instanceof Uint8Array ? Buffer.from(value).toString('latin1') : value;
    if (items.length !== 5 || asText(kind) !== 'storage') {
      throw this.fail(
        'unsafe_checkpoint',
        `the pickle loads a persistent id other than a storage (${describe(pid)}); refused`,
        {},
      );
    }
    if (!(type instanceof PyGlobal) || type.role.kind !== 'storage') {
      throw this.fail(
        'unsafe_checkpoint',
        `a persistent storage names ${clip(describe(type as Value))} as its type, not a storage class; refused`,
        { global: clip(describe(type as Value)) },
      );
    }
    const key = asText(rawKey);
    if (typeof key !== 'string')
      throw this.bad(`a storage key is ${describe(rawKey as Value)}, not a string`);
    if (typeof asText(location) !== 'string') throw this.bad('a storage location is not a string');
    if (!isCount(numel as Value)) throw this.bad(`storage ${clip(key)} has no valid element count`);
    const storage = new StorageRef(key, type.role.dtype, numel as number);
    const seen = this.storages.get(key);
    if (!seen) {
      this.storages.set(key, storage);
      return storage;
    }
    if (seen.dtype !== storage.dtype || seen.numel !== storage.numel) {
      throw this.bad(`storage ${clip(key)} is loaded as two different types or sizes`, { storage: key });
    }
    return seen;
  }

  run(): Value {
    for (let ops = 0; ; ops++) {
      if (ops >= MAX_PICKLE_OPS) throw this.bad(`over ${MAX_PICKLE_OPS} pickle opcodes`);
      this.at = this.pos;
      const op = this.u8();
      switch (op) {
        case 0x80: {
          const protocol = this.u8();
          if (protocol > 5)
            throw this.fail('unsupported_checkpoint', `pickle protocol ${protocol} is newer than 5`);
          break;
        }
        case 0x95: // FRAME: frames only group opcodes for buffered reads
          this.take(8);
          break;
        case 0x2e:
          return this.pop();
        case 0x28:
          this.marks.push(this.stack);
          this.stack = [];
          break;
        case 0x30:
          if (this.stack.length > 0) this.stack.pop();
          else this.popMark();
          break;
        case 0x31:
          this.popMark();
          break;
        case 0x32:
          this.push(this.top());
          break;
        case 0x4e:
          this.push(null);
          break;
        case 0x88:
          this.push(true);
          break;
        case 0x89:
          this.push(false);
          break;
        case 0x4a:
          this.push(this.view.getInt32(this.take(4), true));
          break;
        case 0x4b:
          this.push(this.u8());
          break;
        case 0x4d:
          this.push(this.u16());
          break;
        case 0x8a: {
          const bytes = this.bytes(this.u8());
          let value = 0n;
          for (let i = bytes.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i] as number);
          if (bytes.length > 0 && (bytes[bytes.length - 1] as number) & 0x80)
            value -= 1n << BigInt(8 * bytes.length);
          const small = value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER);
          this.push(small ? Number(value) : value);
          break;
        }
        case 0x47:
          this.push(this.view.getFloat64(this.take(8), false));
          break;
        case 0x58:
          this.push(this.text(this.u32()));
          break;
        case 0x8c:
          this.push(this.text(this.u8()));
          break;
        case 0x8d:
          this.push(this.text(this.u64()));
          break;
        case 0x54: {
          // Python 2 str; torch.load decodes it as UTF-8.
          const length = this.view.getInt32(this.take(4), true);
          if (length < 0) throw this.bad('BINSTRING with a negative length');
          this.push(this.text(length));
          break;
        }
        case 0x55:
          this.push(this.text(this.u8()));
          break;
        case 0x42:
          this.push(this.bytes(this.u32()));
          break;
        case 0x43:
          this.push(this.bytes(this.u8()));
          break;
        case 0x8e:
          this.push(this.bytes(this.u64()));
          break;
        case 0x29:
          this.push(new PyTuple([]));
          break;
        case 0x85:
          this.push(new PyTuple([this.pop()]));
          break;
        case 0x86: {
          const b = this.pop();
          this.push(new PyTuple([this.pop(), b]));
          break;
        }
        case 0x87: {
          const c = this.pop();
          const b = this.pop();
          this.push(new PyTuple([this.pop(), b, c]));
          break;
        }
        case 0x74:
          this.push(new PyTuple(this.popMark()));
          break;
        case 0x5d:
          this.push(new PyList());
          break;
        case 0x6c:
          this.push(new PyList(this.popMark()));
          break;
        case 0x7d:
          this.push(new PyDict());
          break;
        case 0x64: {
          const items = this.popMark();
          const dict = new PyDict();
          this.setItems(dict, items);
          this.push(dict);
          break;
        }
        case 0x61: {
          const item = this.pop();
          const list = this.top();
          if (!(list instanceof PyList)) throw this.bad(`APPEND to ${describe(list)}, not a list`);
          list.items.push(item);
          break;
        }
        case 0x65: {
          const items = this.popMark();
          const list = this.top();
          if (!(list instanceof PyList)) throw this.bad(`APPENDS to ${describe(list)}, not a list`);
          for (const item of items) list.items.push(item);
          break;
        }
        case 0x73: {
          const value = this.pop();
          const key = this.pop();
          this.setItems(this.top(), [key, value]);
          break;
        }
        case 0x75: {
          const items = this.popMark();
          this.setItems(this.top(), items);
          break;
        }
        case 0x68:
          this.get(this.u8());
          break;
        case 0x6a:
          this.get(this.u32());
          break;
        case 0x71:
          this.memo.set(this.u8(), this.top());
          break;
        case 0x72:
          this.memo.set(this.u32(), this.top());
          break;
        case 0x94:
          this.memo.set(this.memo.size, this.top());
          break;
        case 0x63: {
          const module = this.line();
          this.push(this.global(module, this.line()));
          break;
        }
        case 0x93: {
          const name = this.pop();
          const module = this.pop();
          if (typeof module !== 'string' || typeof name !== 'string') {
            throw this.bad('STACK_GLOBAL operands are not strings');
          }
          this.push(this.global(module, name));
          break;
        }
        case 0x52: {
          const args = this.pop();
          this.push(this.reduce(this.pop(), args));
          break;
        }
        case 0x81:
        case 0x92: {
          if (op === 0x92) this.pop(); // keyword arguments
          const args = this.pop();
          const cls = this.pop();
          // Only OrderedDict is ever instantiated this way in a state dict; torch uses REDUCE.
          if (!(cls instanceof PyGlobal) || cls.role.kind !== 'ordered_dict')
            throw this.unsafeCall(describe(cls));
          if (!(args instanceof PyTuple) || args.items.length > 0)
            throw this.bad('OrderedDict built with arguments');
          this.push(new PyDict());
          break;
        }
        case 0x62: {
          // BUILD sets attributes (OrderedDict's _metadata); they carry no weights, so they are dropped.
          this.pop();
          const target = this.top();
          if (!(target instanceof PyDict || target instanceof TensorRef)) {
            throw this.bad(`BUILD on ${describe(target)}`);
          }
          break;
        }
        case 0x51:
          this.push(this.persistent(this.pop()));
          break;
        case 0x69: {
          // INST: a class named inline and called at once.
          const module = this.line();
          throw this.unsafeGlobal(`${module}.${this.line()}`, 'instantiates');
        }
        case 0x6f:
          throw this.fail(
            'unsafe_checkpoint',
            'the pickle uses OBJ, which calls a class from the stack; refused, and nothing in the file was run',
            { opcode: 'OBJ' },
          );
        case 0x82:
        case 0x83:
        case 0x84: {
          const name = OPCODE_NAMES[op] as string;
          throw this.fail(
            'unsafe_checkpoint',
            `the pickle uses ${name}, which names a global through the copyreg extension registry; refused`,
            { opcode: name },
          );
        }
        default: {
          const name = OPCODE_NAMES[op];
          if (name === undefined) {
            throw this.bad(`byte 0x${op.toString(16).padStart(2, '0')} is not a pickle opcode`);
          }
          throw this.fail(
            'unsupported_checkpoint',
            `pickle opcode ${name} is not one torch.save writes for a state dict`,
            { opcode: name },
          );
        }
      }
    }
  }

  private get(index: number): void {
    const value = this.memo.get(index);
    if (value === undefined) throw this.bad(`memo ${index} is read before it is written`);
    this.push(value);
  }
}

/** Interprets `data` (the pickle of archive entry `entry` in file `label`) into inert values. */
export function unpickle(data: Uint8Array, label: string, entry: string): Value {
  return new Unpickler(data, label, entry).run();
}
