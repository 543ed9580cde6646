// A zip reader for torch.save archives, which come from strangers: every size, count and offset the
// headers claim is bounded and checked against the file before it is used, and nothing is read whole
// except the entries asked for. Entries are STORED (what torch.save writes) or DEFLATE (re-zipped
// archives), the latter inflated into at most the declared size. Zip64 is read: archives over 4 GB
// use it, and torch writes its end records even for small ones.
import { constants } from 'node:buffer';
import { crc32, inflateRawSync } from 'node:zlib';
import { ServeError } from '../../errors.ts';
import { badCheckpoint, readExactly } from './files.ts';

/** The central directory is read whole; 64 MiB holds ~500k torch entries, far beyond any checkpoint. */
export const MAX_CENTRAL_DIRECTORY_BYTES = 64 * 2 ** 20;
export const MAX_ENTRIES = 1_000_000;
/** DEFLATE cannot expand more than ~1032:1; an entry claiming more lies about its size. */
const MAX_DEFLATE_RATIO = 1032;

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const U32_MAX = 0xffffffff;

export interface ZipEntry {
  readonly name: string;
  readonly method: 'stored' | 'deflate';
  readonly compressedSize: number;
  readonly size: number;
  readonly crc32: number;
  readonly localHeaderOffset: number;
}

export class ZipArchive {
  /** Absolute offsets of entry data, found from local headers on first use. */
  private readonly dataStarts = new Map<string, number>();

  private constructor(
    private readonly fd: number,
    /** The file's name for messages. */
    readonly label: string,
    private readonly fileSize: number,
    /** Where the local headers and data must end: the start of the central directory. */
    private readonly dataEnd: number,
    readonly entries: ReadonlyMap<string, ZipEntry>,
  ) {}

  static open(fd: number, label: string, fileSize: number): ZipArchive {
    const { cdOffset, cdSize, count } = findEnd(fd, label, fileSize);
    const cd = readExactly(fd, cdSize, cdOffset, label);
    return new ZipArchive(fd, label, fileSize, cdOffset, parseCentralDirectory(cd, count, cdOffset, label));
  }

  /** Absolute file offset of an entry's data, after checking its local header. */
  dataStart(entry: ZipEntry): number {
    const known = this.dataStarts.get(entry.name);
    if (known !== undefined) return known;
    const at = entry.localHeaderOffset;
    if (at + 30 > this.dataEnd)
      throw this.bad(`entry ${entry.name}: local header lies outside the file`, entry);
    const header = readExactly(this.fd, 30, at, this.label);
    const view = new DataView(header.buffer);
    if (view.getUint32(0, true) !== LOCAL) {
      throw this.bad(`entry ${entry.name}: no local header at byte ${at}`, entry);
    }
    const nameLength = view.getUint16(26, true);
    const extraLength = view.getUint16(28, true);
    const start = at + 30 + nameLength + extraLength;
    if (start + entry.compressedSize > this.dataEnd) {
      throw this.bad(`entry ${entry.name}: data runs past the central directory`, entry);
    }
    if (entryName(readExactly(this.fd, nameLength, at + 30, this.label)) !== entry.name) {
      throw this.bad(`entry ${entry.name}: local header names another file`, entry);
    }
    this.dataStarts.set(entry.name, start);
    return start;
  }

  /** The whole entry, CRC-checked; refused when it declares more than `limit` bytes. */
  read(entry: ZipEntry, limit: number): Uint8Array {
    if (entry.size > limit) {
      throw this.bad(`entry ${entry.name} declares ${entry.size} bytes, over the limit of ${limit}`, entry);
    }
    const raw = readExactly(this.fd, entry.compressedSize, this.dataStart(entry), this.label);
    const data = entry.method === 'stored' ? raw : this.inflate(entry, raw);
    if (crc32(data) !== entry.crc32) throw this.bad(`entry ${entry.name} fails its CRC-32 check`, entry);
    return data;
  }

  private inflate(entry: ZipEntry, raw: Uint8Array): Uint8Array {
    if (entry.size > constants.MAX_LENGTH) {
      throw new ServeError(
        'unsupported_checkpoint',
        `${this.label}: entry ${entry.name} is DEFLATE-compressed and too large to inflate (${entry.size} bytes)`,
        { file: this.label, entry: entry.name },
      );
    }
    let out: Buffer;
    try {
      // maxOutputLength stops a stream that inflates past its declared size (a bomb) early.
      out = inflateRawSync(raw, { maxOutputLength: Math.max(entry.size, 1) });
    } catch (error) {
      const tooLarge = (error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE';
      throw this.bad(
        tooLarge
          ? `entry ${entry.name} inflates past its declared ${entry.size} bytes`
          : `entry ${entry.name} is not valid DEFLATE data`,
        entry,
      );
    }
    if (out.length !== entry.size) {
      throw this.bad(
        `entry ${entry.name} inflates to ${out.length} bytes, not its declared ${entry.size}`,
        entry,
      );
    }
    return new Uint8Array(out.buffer, out.byteOffset, out.length);
  }

  /** `length` bytes of the entry from `start`; STORED entries are read in place, DEFLATE ones inflated. */
  readRange(entry: ZipEntry, start: number, length: number): Uint8Array {
    if (start < 0 || length < 0 || start + length > entry.size) {
      throw this.bad(
        `entry ${entry.name}: bytes ${start}-${start + length} lie outside its ${entry.size}`,
        entry,
      );
    }
    // A DEFLATE stream cannot be entered in the middle: inflate it all (bounded by its checked size).
    if (entry.method === 'deflate') return this.read(entry, entry.size).subarray(start, start + length);
    // STORED: only the bytes asked for (a tensor's span of a multi-GB storage), so no CRC check here.
    return readExactly(this.fd, length, this.dataStart(entry) + start, this.label);
  }

  private bad(message: string, entry: ZipEntry): ServeError {
    return badCheckpoint(this.label, message, { entry: entry.name, fileSize: this.fileSize });
  }
}

/** A 64-bit little-endian count or offset, refused past 2^53 (no file is that large). */
function u64(view: DataView, at: number, label: string, what: string): number {
  const value = view.getBigUint64(at, true);
  if (value > BigInt(Number.MAX_SAFE_INTEGER))
    throw badCheckpoint(label, `zip64 ${what} ${value} is impossible`);
  return Number(value);
}

interface End {
  cdOffset: number;
  cdSize: number;
  count: number;
}

/** Finds the end of central directory record (and its zip64 twin) and checks what it claims. */
function findEnd(fd: number, label: string, fileSize: number): End {
  // The record is 22 bytes plus a comment of at most 65535 bytes, at the very end of the file.
  const tailLength = Math.min(fileSize, 22 + 0xffff);
  const tailStart = fileSize - tailLength;
  const tail = readExactly(fd, tailLength, tailStart, label);
  const view = new DataView(tail.buffer);
  let at = -1;
  for (let i = tailLength - 22; i >= 0; i--) {
    if (view.getUint32(i, true) === EOCD && i + 22 + view.getUint16(i + 20, true) === tailLength) {
      at = i;
      break;
    }
  }
  if (at < 0) throw badCheckpoint(label, 'no zip end of central directory record (truncated or not a zip)');
  const eocdOffset = tailStart + at;
  if (view.getUint16(at + 4, true) !== 0 || view.getUint16(at + 6, true) !== 0) {
    throw badCheckpoint(label, 'multi-volume zip archives are not read');
  }
  let count = view.getUint16(at + 10, true);
  let cdSize = view.getUint32(at + 12, true);
  let cdOffset = view.getUint32(at + 16, true);
  let cdLimit = eocdOffset;

  const locatorOffset = eocdOffset - 20;
  const locator =
    locatorOffset >= 0 ? new DataView(readExactly(fd, 20, locatorOffset, label).buffer) : undefined;
  if (locator?.getUint32(0, true) === ZIP64_LOCATOR) {
    const recordOffset = u64(locator, 8, label, 'end record offset');
    if (recordOffset + 56 > locatorOffset) {
      throw badCheckpoint(label, `zip64 end record offset ${recordOffset} lies outside the file`);
    }
    const record = new DataView(readExactly(fd, 56, recordOffset, label).buffer);
    if (record.getUint32(0, true) !== ZIP64_EOCD) throw badCheckpoint(label, 'zip64 end record is missing');
    if (record.getUint32(16, true) !== 0 || record.getUint32(20, true) !== 0) {
      throw badCheckpoint(label, 'multi-volume zip archives are not read');
    }
    count = u64(record, 32, label, 'entry count');
    cdSize = u64(record, 40, label, 'central directory size');
    cdOffset = u64(record, 48, label, 'central directory offset');
    cdLimit = recordOffset;
  } else if (count === 0xffff || cdSize === U32_MAX || cdOffset === U32_MAX) {
    throw badCheckpoint(label, 'zip64 end record locator is missing');
  }

  if (count > MAX_ENTRIES) throw badCheckpoint(label, `${count} entries is over the limit of ${MAX_ENTRIES}`);
  if (cdSize > MAX_CENTRAL_DIRECTORY_BYTES) {
    throw badCheckpoint(
      label,
      `central directory of ${cdSize} bytes is over the limit of ${MAX_CENTRAL_DIRECTORY_BYTES}`,
    );
  }
  if (cdOffset + cdSize > cdLimit) {
    throw badCheckpoint(
      label,
      `central directory (bytes ${cdOffset}-${cdOffset + cdSize}) lies outside the file's ${fileSize} bytes`,
      { cdOffset, cdSize, fileSize },
    );
  }
  if (count * 46 > cdSize)
    throw badCheckpoint(label, `${count} entries cannot fit a ${cdSize}-byte central directory`);
  return { cdOffset, cdSize, count };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function entryName(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch {
    // Not UTF-8: CP437 by the spec; torch writes ASCII, so latin1 is enough to name it in an error.
    return Buffer.from(bytes).toString('latin1');
  }
}

function parseCentralDirectory(
  cd: Uint8Array,
  count: number,
  cdOffset: number,
  label: string,
): Map<string, ZipEntry> {
  const view = new DataView(cd.buffer, cd.byteOffset, cd.byteLength);
  const entries = new Map<string, ZipEntry>();
  let at = 0;
  for (let i = 0; i < count; i++) {
    if (at + 46 > cd.length || view.getUint32(at, true) !== CENTRAL) {
      throw badCheckpoint(label, `central directory entry ${i} is missing or damaged`);
    }
    const flags = view.getUint16(at + 8, true);
    const methodCode = view.getUint16(at + 10, true);
    const crc32 = view.getUint32(at + 16, true);
    let compressedSize = view.getUint32(at + 20, true);
    let size = view.getUint32(at + 24, true);
    const nameLength = view.getUint16(at + 28, true);
    const extraLength = view.getUint16(at + 30, true);
    const commentLength = view.getUint16(at + 32, true);
    let disk = view.getUint16(at + 34, true);
    let localHeaderOffset = view.getUint32(at + 42, true);
    const end = at + 46 + nameLength + extraLength + commentLength;
    if (end > cd.length) throw badCheckpoint(label, `central directory entry ${i} runs past the directory`);
    const name = entryName(cd.subarray(at + 46, at + 46 + nameLength));

    // Zip64 extra field: 8-byte values for exactly the fields saturated above, in this order.
    let extra = at + 46 + nameLength;
    const extraEnd = extra + extraLength;
    while (extra + 4 <= extraEnd) {
      const id = view.getUint16(extra, true);
      const length = view.getUint16(extra + 2, true);
      const body = extra + 4;
      if (body + length > extraEnd)
        throw badCheckpoint(label, `entry ${name}: extra field runs past its header`);
      if (id === 0x0001) {
        let p = body;
        const next = (what: string): number => {
          if (p + 8 > body + length)
            throw badCheckpoint(label, `entry ${name}: zip64 field lacks its ${what}`);
          const value = u64(view, p, label, what);
          p += 8;
          return value;
        };
        if (size === U32_MAX) size = next('size');
        if (compressedSize === U32_MAX) compressedSize = next('compressed size');
        if (localHeaderOffset === U32_MAX) localHeaderOffset = next('local header offset');
        if (disk === 0xffff) disk = view.getUint32(p, true);
      }
      extra = body + length;
    }
    if (disk !== 0) throw badCheckpoint(label, 'multi-volume zip archives are not read');
    if (flags & 0x1) {
      throw new ServeError('unsupported_checkpoint', `${label}: entry ${name} is encrypted`, {
        file: label,
        entry: name,
      });
    }
    if (methodCode !== 0 && methodCode !== 8) {
      throw new ServeError(
        'unsupported_checkpoint',
        `${label}: entry ${name} uses zip compression method ${methodCode}; only STORED and DEFLATE are read`,
        { file: label, entry: name, method: methodCode },
      );
    }
    const method = methodCode === 0 ? 'stored' : 'deflate';
    if (method === 'stored' && compressedSize !== size) {
      throw badCheckpoint(label, `entry ${name} is stored but declares ${size} bytes in ${compressedSize}`, {
        entry: name,
      });
    }
    if (method === 'deflate' && size > compressedSize * MAX_DEFLATE_RATIO + 1024) {
      throw badCheckpoint(
        label,
        `entry ${name} declares ${size} bytes from ${compressedSize} compressed: more than DEFLATE can expand`,
        { entry: name, size, compressedSize },
      );
    }
    if (localHeaderOffset + 30 + compressedSize > cdOffset) {
      throw badCheckpoint(label, `entry ${name} lies outside the file`, { entry: name });
    }
    if (entries.has(name)) throw badCheckpoint(label, `entry ${name} appears twice`, { entry: name });
    entries.set(name, { name, method, compressedSize, size, crc32, localHeaderOffset });
    at = end;
  }
  return entries;
}
