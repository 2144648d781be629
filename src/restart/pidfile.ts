/**
 * The PID file: checked before anything listens, written atomically once serving, removed on the
 * final exit only while it still names this process (a successor may have taken it over).
 * @module
 */

import { randomBytes } from "node:crypto";
import fs from "node:fs";
import nodePath from "node:path";
import { optionError } from "../core/errors.ts";

/**
 * Checks, before anything listens, that a PID file can be written at `path`: its directory exists,
 * is a directory and is writable, and `path` is not a directory. A PID file that fails only once the
 * server is up would leave it serving without one, and a restart successor never ready (issue 13,
 * defect 10). `what` names the option in the error.
 * @throws {Error} naming the option and the reason (`code: "ERR_GRACEFUL_OPTION"`).
 * @internal
 */
export function checkPidFile(path: string, what: string): void {
  const dir = nodePath.dirname(nodePath.resolve(path));
  let reason: string | undefined;
  try {
    if (!fs.statSync(dir).isDirectory()) reason = `${dir} is not a directory`;
    else if (fs.statSync(path, { throwIfNoEntry: false })?.isDirectory()) reason = `${path} is a directory`;
    else fs.accessSync(dir, fs.constants.W_OK);
  } catch (error) {
    reason = `${dir} is not writable (${(error as NodeJS.ErrnoException).code ?? String(error)})`;
    if ((error as NodeJS.ErrnoException).code === "ENOENT") reason = `directory ${dir} does not exist`;
    if ((error as NodeJS.ErrnoException).code === "ENOTDIR") reason = `${dir} is not a directory`;
  }
  if (reason !== undefined) throw optionError(Error, `${what} cannot be written: ${reason}`);
}

/**
 * Writes `pid` to `path` atomically: a temp file with an unpredictable name, created exclusively and
 * never through a symlink (`O_EXCL|O_NOFOLLOW`), mode 0644 whatever the umask, then renamed over
 * `path` — so readers never see half a file, and in a shared directory nobody can plant a symlink
 * that makes this process overwrite another file (issue 13, defect 11).
 * @internal
 */
export function writePidFile(path: string, pid: number): void {
  const temp = nodePath.join(
    nodePath.dirname(path),
    `.${nodePath.basename(path)}.${randomBytes(12).toString("hex")}.tmp`,
  );
  const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = fs.constants;
  const fd = fs.openSync(temp, O_WRONLY | O_CREAT | O_EXCL | (O_NOFOLLOW ?? 0), 0o644);
  try {
    fs.fchmodSync(fd, 0o644); // the umask may have taken bits away (or a umask 000 added none)
    fs.writeSync(fd, `${pid}\n`);
  } catch (error) {
    fs.closeSync(fd);
    fs.rmSync(temp, { force: true });
    throw error;
  }
  fs.closeSync(fd);
  try {
    fs.renameSync(temp, path);
  } catch (error) {
    fs.rmSync(temp, { force: true });
    throw error;
  }
}

/** Removes the PID file if it still names `pid` (a successor may have taken it over). @internal */
export function removePidFile(path: string, pid: number): void {
  try {
    if (fs.readFileSync(path, "utf8").trim() === String(pid)) fs.unlinkSync(path);
  } catch {
    // Already gone.
  }
}
