// The few WASI preview-1 calls the command module needs, declared directly: AssemblyScript imports
// them like any host function, so no shim library or C toolchain sits between the kernels and the
// host (docs/EDGE.md). Errors end the process with one line on stderr and the CLI's exit codes.

// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "args_sizes_get") declare function args_sizes_get(argc: usize, bufSize: usize): u16;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "args_get") declare function args_get(argv: usize, buf: usize): u16;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "fd_write") declare function fd_write(fd: u32, iovs: usize, n: usize, written: usize): u16;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "fd_read") declare function fd_read(fd: u32, iovs: usize, n: usize, read: usize): u16;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "fd_seek") declare function fd_seek(fd: u32, offset: i64, whence: u8, newOffset: usize): u16;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "fd_close") declare function fd_close(fd: u32): u16;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "fd_prestat_get") declare function fd_prestat_get(fd: u32, buf: usize): u16;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "fd_prestat_dir_name") declare function fd_prestat_dir_name(fd: u32, path: usize, len: usize): u16;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "path_open") declare function path_open(dirfd: u32, dirflags: u32, path: usize, pathLen: usize, oflags: u16, rightsBase: u64, rightsInheriting: u64, fdflags: u16, fd: usize): u16;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "clock_time_get") declare function clock_time_get(id: u32, precision: u64, time: usize): u16;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "proc_exit") declare function proc_exit(code: u32): void;

/** Exit codes as the sqz CLI's: 0 done, 1 a bad input (usage, file), 2 a usage error, 70 a bug. */
export const EXIT_INPUT: u32 = 1;
export const EXIT_USAGE: u32 = 2;
export const EXIT_BUG: u32 = 70;

/** The command line, argv[0] included. */
export function commandLine(): string[] {
  const sizes = heap.alloc(8);
  args_sizes_get(sizes, sizes + 4);
  const argc = load<u32>(sizes);
  const argv = heap.alloc(<usize>argc * 4);
  const buf = heap.alloc(load<u32>(sizes, 4));
  args_get(argv, buf);
  const out = new Array<string>();
  for (let i: u32 = 0; i < argc; i++) {
    const p = load<u32>(argv + (<usize>i << 2));
    let e = p;
    while (load<u8>(e) != 0) e++;
    out.push(String.UTF8.decodeUnsafe(p, e - p));
  }
  return out;
}

function writeBytes(fd: u32, ptr: usize, len: usize): void {
  const iov = heap.alloc(12);
  while (len > 0) {
    store<u32>(iov, ptr);
    store<u32>(iov, len, 4);
    if (fd_write(fd, iov, 1, iov + 8) != 0) break;
    const n = load<u32>(iov, 8);
    ptr += n;
    len -= n;
  }
  heap.free(iov);
}

/** Bytes to standard output as they are (token pieces are UTF-8 already). */
export function writeOut(ptr: usize, len: usize): void {
  writeBytes(1, ptr, len);
}

export function writeText(fd: u32, s: string): void {
  const b = String.UTF8.encode(s);
  writeBytes(fd, changetype<usize>(b), b.byteLength);
}

/** One line on stderr and the process ends with `code`. */
export function fail(code: u32, message: string): void {
  writeText(2, `sqz-run: ${message}\n`);
  proc_exit(code);
}

/** Milliseconds since the epoch (the sampler's default seed, as the CLI's Date.now()). */
export function nowMs(): u64 {
  const t = heap.alloc(8);
  clock_time_get(0, 1000000, t);
  return load<u64>(t) / 1000000;
}

export function exit(code: u32): void {
  proc_exit(code);
}

// rights: fd_read (2) | fd_seek (4) | fd_tell (32) | fd_filestat_get (2^21)
const READ_RIGHTS: u64 = 2 | 4 | 32 | (1 << 21);

/** Opens `path` (relative to a preopened directory, or absolute under one) for reading; -1 when no preopen holds it. */
function openForRead(path: string): i32 {
  const buf = heap.alloc(8);
  const fdOut = heap.alloc(4);
  // preopens are fds 3, 4, ... until fd_prestat_get fails
  for (let fd: u32 = 3; fd < 64; fd++) {
    if (fd_prestat_get(fd, buf) != 0) break;
    const nameLen = load<u32>(buf, 4);
    const name = heap.alloc(nameLen + 1);
    fd_prestat_dir_name(fd, name, nameLen);
    let dir = String.UTF8.decodeUnsafe(name, nameLen);
    heap.free(name);
    while (dir.length > 1 && dir.endsWith('/')) dir = dir.slice(0, dir.length - 1);
    let rel: string | null = null;
    if (!path.startsWith('/')) rel = dir == '.' || dir == '' ? path : null;
    else if (dir == '/') rel = path.slice(1);
    else if (path.startsWith(dir + '/')) rel = path.slice(dir.length + 1);
    if (rel === null) continue;
    const p = String.UTF8.encode(<string>rel);
    if (path_open(fd, 1, changetype<usize>(p), p.byteLength, 0, READ_RIGHTS, 0, 0, fdOut) == 0) return load<i32>(fdOut);
  }
  return -1;
}

/** The whole file at `path`, in fresh memory; `len` gets its size. Ends the process naming the file when it cannot be read. */
export function readWholeFile(path: string, len: usize): usize {
  const fd = openForRead(path);
  if (fd < 0) fail(EXIT_INPUT, `${path}: cannot open (no such file, or no preopened directory holds it: run with --dir)`);
  const pos = heap.alloc(8);
  if (fd_seek(<u32>fd, 0, 2, pos) != 0) fail(EXIT_INPUT, `${path}: cannot seek`);
  const size = <usize>load<u64>(pos);
  fd_seek(<u32>fd, 0, 0, pos);
  const data = heap.alloc(size + 16);
  const iov = heap.alloc(12);
  let got: usize = 0;
  while (got < size) {
    store<u32>(iov, data + got);
    store<u32>(iov, size - got, 4);
    if (fd_read(<u32>fd, iov, 1, iov + 8) != 0) fail(EXIT_INPUT, `${path}: read error`);
    const n = load<u32>(iov, 8);
    if (n == 0) break;
    got += n;
  }
  fd_close(<u32>fd);
  store<usize>(len, got);
  return data;
}

/** AssemblyScript's abort (a failed bounds check or assertion) as a one-line bug report. */
export function abortHandler(message: string | null, file: string | null, line: u32, column: u32): void {
  fail(EXIT_BUG, `internal error: ${message !== null ? message : 'abort'} at ${file !== null ? file : '?'}:${line}:${column}`);
}
