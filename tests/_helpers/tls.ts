/**
 * Test certificates made with `openssl` in a temporary directory: a CA and a
 * server certificate it signed for 127.0.0.1 and localhost. (A lone
 * self-signed certificate is refused by rustls-based clients such as
 * Deno's: it is a CA certificate used as an end-entity one.)
 */
import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TestCertificates {
  /** The CA certificate (PEM) that clients trust. */
  ca: string;
  /** The server's certificate (PEM). */
  cert: string;
  /** The server's private key (PEM). */
  key: string;
  /** Path of the CA certificate file. */
  caFile: string;
  /** Path of the server's certificate file (for servers in child processes). */
  certFile: string;
  /** Path of the server's private key file. */
  keyFile: string;
  /** Removes the temporary directory. */
  remove(): Promise<void>;
}

export async function makeCertificates(): Promise<TestCertificates> {
  const dir = await mkdtemp(join(tmpdir(), "hybi-tls-"));
  const path = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  openssl(
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-days",
    "1",
    "-subj",
    "/CN=hybi test CA",
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
  );
  openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", "key.pem", "-out", "server.csr");
  await writeFile(
    path("server.ext"),
    "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n" +
      "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
  );
  openssl(
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-days",
    "1",
    "-extfile",
    "server.ext",
    "-out",
    "cert.pem",
  );
  return {
    ca: await readFile(path("ca.pem"), "utf8"),
    cert: await readFile(path("cert.pem"), "utf8"),
    key: await readFile(path("key.pem"), "utf8"),
    caFile: path("ca.pem"),
    certFile: path("cert.pem"),
    keyFile: path("key.pem"),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
