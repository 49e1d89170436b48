import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { type ExtensionElement, formatExtension, parseExtensions } from "../mod.ts";
import { isToken } from "../src/extensions/extension_header.ts";

function offers(value: string | null): ExtensionElement[] {
  const parsed = parseExtensions(value);
  assert.equal(parsed.malformed, 0, parsed.reason ?? "");
  return parsed.offers;
}

test("an absent or empty header has no offers", () => {
  assert.deepEqual(parseExtensions(null), { offers: [], malformed: 0, reason: null });
  assert.deepEqual(parseExtensions(""), { offers: [], malformed: 0, reason: null });
  assert.deepEqual(parseExtensions(" ,\t, "), { offers: [], malformed: 0, reason: null });
});

test("offers, parameters with and without values, in order", () => {
  assert.deepEqual(offers("permessage-deflate; client_max_window_bits, permessage-deflate"), [
    { name: "permessage-deflate", params: [{ name: "client_max_window_bits", value: null }] },
    { name: "permessage-deflate", params: [] },
  ]);
  assert.deepEqual(offers("x-a;p=1;q;r=abc, x-b"), [
    { name: "x-a", params: [{ name: "p", value: "1" }, { name: "q", value: null }, { name: "r", value: "abc" }] },
    { name: "x-b", params: [] },
  ]);
});

test("optional whitespace around every separator, and tabs", () => {
  assert.deepEqual(
    offers(" \tpermessage-deflate \t; \tserver_max_window_bits \t= \t10 \t;client_no_context_takeover ,x"),
    [
      {
        name: "permessage-deflate",
        params: [{ name: "server_max_window_bits", value: "10" }, { name: "client_no_context_takeover", value: null }],
      },
      { name: "x", params: [] },
    ],
  );
});

test("quoted values are unquoted and unescaped (RFC 6455 §9.1)", () => {
  assert.deepEqual(offers('permessage-deflate; client_max_window_bits="10"'), [
    { name: "permessage-deflate", params: [{ name: "client_max_window_bits", value: "10" }] },
  ]);
  assert.deepEqual(offers('x; a="\\1\\0"; b = "tok-en"'), [
    { name: "x", params: [{ name: "a", value: "10" }, { name: "b", value: "tok-en" }] },
  ]);
});

test("several header lines, as Headers joins them", () => {
  const headers = new Headers();
  headers.append("sec-websocket-extensions", "permessage-deflate; client_max_window_bits");
  headers.append("sec-websocket-extensions", "x-webkit-deflate-frame");
  assert.deepEqual(offers(headers.get("sec-websocket-extensions")).map((o) => o.name), [
    "permessage-deflate",
    "x-webkit-deflate-frame",
  ]);
});

test("duplicate parameters are kept for the extension to judge", () => {
  assert.deepEqual(offers("x; a; a=1").map((o) => o.params.length), [2]);
});

test("malformed elements are dropped and counted; the rest survive", () => {
  const cases: [string, string[]][] = [
    ["x;", []],
    ["x; ", []],
    [";x", []],
    ["x;=1", []],
    ["x; a=", []],
    ["x; a= ,y", ["y"]],
    ["x y, z", ["z"]],
    ['x; a="1', []],
    ['x; a="", y', ["y"]],
    ['x; a="1 0", y', ["y"]],
    ['x; a="1,0", y', ["y"]],
    ['x; a="\\,", y', ["y"]],
    ['x; a=1"2", y', ["y"]],
    ['x; a=b; c="d,e" f, y', ["y"]],
    ["x; a=@, y", ["y"]],
    ["x\u00e9, y", ["y"]],
    ["x; a=\u00e9, y", ["y"]],
    ["x; a=1; b=2=3, y", ["y"]],
    ['"x", y', ["y"]],
    ["(x), y", ["y"]],
    ["x, =, y", ["x", "y"]],
  ];
  for (const [value, names] of cases) {
    const parsed = parseExtensions(value);
    assert.equal(parsed.malformed, 1, value);
    assert.match(parsed.reason ?? "", /^malformed extension at offset \d+: /, value);
    assert.deepEqual(parsed.offers.map((o) => o.name), names, value);
  }
});

test("a quoted comma inside a malformed element does not split it", () => {
  const parsed = parseExtensions('x; a=b c="1,2,3", y; p="q,r", z');
  assert.equal(parsed.malformed, 2);
  assert.deepEqual(parsed.offers.map((o) => o.name), ["z"]);
  const second = parseExtensions('x; a=b c="1,2,3"\t, y');
  assert.deepEqual(second.offers.map((o) => o.name), ["y"]);
});

test("formatExtension writes a response element", () => {
  assert.equal(formatExtension({ name: "permessage-deflate", params: [] }), "permessage-deflate");
  assert.equal(
    formatExtension({
      name: "permessage-deflate",
      params: [{ name: "server_no_context_takeover", value: null }, { name: "server_max_window_bits", value: "10" }],
    }),
    "permessage-deflate; server_no_context_takeover; server_max_window_bits=10",
  );
  assert.throws(() => formatExtension({ name: "a b", params: [] }), TypeError);
  assert.throws(() => formatExtension({ name: "a", params: [{ name: "", value: null }] }), TypeError);
  assert.throws(() => formatExtension({ name: "a", params: [{ name: "b", value: "" }] }), TypeError);
  assert.throws(() => formatExtension({ name: "a", params: [{ name: "b", value: "1,2" }] }), TypeError);
});

const tokenChars = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const token = fc.string({ unit: fc.constantFrom(...tokenChars), minLength: 1, maxLength: 12 });
// Plain objects (fast-check's records have a null prototype, which deepEqual tells apart).
const element = fc.tuple(token, fc.array(fc.tuple(token, fc.option(token, { nil: null })), { maxLength: 4 }))
  .map(([name, params]): ExtensionElement => ({ name, params: params.map(([n, value]) => ({ name: n, value })) }));
const ows = fc.string({ unit: fc.constantFrom(" ", "\t"), maxLength: 2 });

test("property: formatted elements with arbitrary whitespace and quoting parse back", () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(element, fc.array(fc.tuple(ows, ows, ows, fc.boolean()), { minLength: 5, maxLength: 5 })), {
        minLength: 1,
        maxLength: 4,
      }),
      (list) => {
        const text = list.map(([e, spaces]) => {
          const [a, b, c] = spaces[0];
          let out = a + e.name;
          e.params.forEach((p, i) => {
            const [s1, s2, s3, quoted] = spaces[(i + 1) % 5];
            out += `${s1};${s2}${p.name}`;
            if (p.value !== null) out += `${s3}=${s1}${quoted ? `"${p.value.replace(/./g, "\\$&")}"` : p.value}`;
            out += s2;
          });
          return out + b + c;
        }).join(",");
        const parsed = parseExtensions(text);
        assert.equal(parsed.malformed, 0, `${text}: ${parsed.reason}`);
        assert.deepEqual(parsed.offers, list.map(([e]) => e));
        assert.deepEqual(parseExtensions(list.map(([e]) => formatExtension(e)).join(", ")).offers, parsed.offers);
      },
    ),
    { numRuns: 500 },
  );
});

test("property: any input parses without throwing, into well-formed elements", () => {
  const alphabet = fc.constantFrom(...'ab=;,"\\ \t\u00e9\u0000()@x-1');
  fc.assert(
    fc.property(fc.string({ unit: alphabet, maxLength: 80 }), (text) => {
      const parsed = parseExtensions(text);
      assert.ok(parsed.malformed >= 0);
      assert.equal(parsed.reason === null, parsed.malformed === 0);
      for (const o of parsed.offers) {
        assert.ok(isToken(o.name), o.name);
        for (const p of o.params) {
          assert.ok(isToken(p.name));
          assert.ok(p.value === null || isToken(p.value));
        }
        // A well-formed element survives formatting and parsing unchanged.
        assert.deepEqual(parseExtensions(formatExtension(o)).offers, [o]);
      }
    }),
    { numRuns: 2000 },
  );
});

// A quadratic scan would take many seconds on these and hit the runner's timeout;
// the assertions check the scan saw every piece.
test("100 KiB of pathological input is scanned in one pass", () => {
  const K = 100 * 1024;
  const cases: [string, (p: ReturnType<typeof parseExtensions>) => void][] = [
    [";".repeat(K), (p) => assert.equal(p.malformed, 1)],
    [",".repeat(K), (p) => assert.equal(p.offers.length + p.malformed, 0)],
    [" ".repeat(K), (p) => assert.equal(p.offers.length, 0)],
    ["x" + ";a".repeat(K / 2), (p) => assert.equal(p.offers[0].params.length, K / 2)],
    ["x,".repeat(K / 2), (p) => assert.equal(p.offers.length, K / 2)],
    ["x;,".repeat(K / 3), (p) => assert.equal(p.malformed, Math.floor(K / 3))],
    ['x; a="' + "\\a".repeat(K / 2) + '"', (p) => assert.equal(p.offers[0].params[0].value!.length, K / 2)],
    ['x; a="' + "\\,".repeat(K / 2), (p) => assert.equal(p.malformed, 1)],
    ['x; a="' + ",".repeat(K), (p) => assert.equal(p.malformed, 1)],
    ['"'.repeat(K), (p) => assert.equal(p.malformed, 1)],
    ["x" + "; a = b".repeat(K / 7), (p) => assert.equal(p.offers[0].params.length, Math.floor(K / 7))],
    ['x; a="1 "'.repeat(K / 10) + ",y", (p) => assert.deepEqual(p.offers.map((o) => o.name), ["y"])],
  ];
  for (const [text, check] of cases) check(parseExtensions(text));
});
