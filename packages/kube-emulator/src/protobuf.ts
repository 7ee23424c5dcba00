/**
 * Request bodies in `application/vnd.kubernetes.protobuf`, which client-go's typed clients (so
 * kubectl 1.32+ `create configmap|secret|namespace|serviceaccount|deployment|service`) send for built-in kinds and
 * never fall back from (client-go retries in JSON only after a 415 to CBOR). The envelope is
 * `k8s\0` + runtime.Unknown{typeMeta, raw}; `raw` is the kind's generated.proto message. Only the
 * simple kinds below are decoded, with the fields a client sets (field numbers from
 * k8s.io/api/core/v1/generated.proto and apimachinery's meta/v1); any other kind is refused with
 * a 415 naming JSON and YAML, as the server does for kinds without protobuf (CRDs).
 * TEST/DEMO FIXTURE — see index.ts.
 */
import { ApiError, errors } from "./errors.js";

export const PROTOBUF = "application/vnd.kubernetes.protobuf";

/** `bool`/`int`: Go non-pointers (false/0 written, omitted in JSON); `ptrBool`/`ptrInt`: pointers (kept). */
type Scalar = "string" | "bytes" | "bool" | "ptrBool" | "int" | "ptrInt" | "map" | "bytesMap" | "strings" | "intOrString";
type Field = [name: string, kind: Scalar | Fields | { repeated: Fields }];
interface Fields {
  [num: number]: Field;
}

const OBJECT_META: Fields = {
  1: ["name", "string"],
  2: ["generateName", "string"],
  3: ["namespace", "string"],
  5: ["uid", "string"],
  6: ["resourceVersion", "string"],
  7: ["generation", "int"],
  11: ["labels", "map"],
  12: ["annotations", "map"],
  14: ["finalizers", "strings"],
};

const CONTAINER: Fields = {
  1: ["name", "string"],
  2: ["image", "string"],
  3: ["command", "strings"],
  4: ["args", "strings"],
  5: ["workingDir", "string"],
  6: [
    "ports",
    {
      repeated: {
        1: ["name", "string"],
        2: ["hostPort", "int"],
        3: ["containerPort", "int"],
        4: ["protocol", "string"],
        5: ["hostIP", "string"],
      },
    },
  ],
  7: ["env", { repeated: { 1: ["name", "string"], 2: ["value", "string"] } }],
  13: ["terminationMessagePath", "string"],
  14: ["imagePullPolicy", "string"],
  16: ["stdin", "bool"],
  17: ["stdinOnce", "bool"],
  18: ["tty", "bool"],
  20: ["terminationMessagePolicy", "string"],
};

const POD_SPEC: Fields = {
  2: ["containers", { repeated: CONTAINER }],
  3: ["restartPolicy", "string"],
  4: ["terminationGracePeriodSeconds", "ptrInt"],
  6: ["dnsPolicy", "string"],
  7: ["nodeSelector", "map"],
  8: ["serviceAccountName", "string"],
  9: ["serviceAccount", "string"],
  10: ["nodeName", "string"],
  11: ["hostNetwork", "bool"],
  12: ["hostPID", "bool"],
  13: ["hostIPC", "bool"],
  16: ["hostname", "string"],
  17: ["subdomain", "string"],
  19: ["schedulerName", "string"],
  20: ["initContainers", { repeated: CONTAINER }],
  21: ["automountServiceAccountToken", "ptrBool"],
  24: ["priorityClassName", "string"],
};

const KINDS: Record<string, Fields> = {
  // What kubectl create service sends.
  Service: {
    1: ["metadata", OBJECT_META],
    2: [
      "spec",
      {
        1: [
          "ports",
          {
            repeated: {
              1: ["name", "string"],
              2: ["protocol", "string"],
              3: ["port", "int"],
              4: ["targetPort", "intOrString"],
              5: ["nodePort", "int"],
              6: ["appProtocol", "string"],
            },
          },
        ],
        2: ["selector", "map"],
        3: ["clusterIP", "string"],
        4: ["type", "string"],
        7: ["sessionAffinity", "string"],
        10: ["externalName", "string"],
        11: ["externalTrafficPolicy", "string"],
        13: ["publishNotReadyAddresses", "bool"],
      },
    ],
  },
  // What kubectl create deployment sends (status and fields it never sets are skipped).
  Deployment: {
    1: ["metadata", OBJECT_META],
    2: [
      "spec",
      {
        1: ["replicas", "ptrInt"],
        2: ["selector", { 1: ["matchLabels", "map"] }],
        3: ["template", { 1: ["metadata", OBJECT_META], 2: ["spec", POD_SPEC] }],
        4: ["strategy", { 1: ["type", "string"] }],
        5: ["minReadySeconds", "int"],
        6: ["revisionHistoryLimit", "ptrInt"],
        7: ["paused", "bool"],
        9: ["progressDeadlineSeconds", "ptrInt"],
      },
    ],
  },
  DeleteOptions: {
    1: ["gracePeriodSeconds", "ptrInt"],
    2: ["preconditions", { 1: ["uid", "string"], 2: ["resourceVersion", "string"] }],
    3: ["orphanDependents", "ptrBool"],
    4: ["propagationPolicy", "string"],
    5: ["dryRun", "strings"],
  },
  ConfigMap: { 1: ["metadata", OBJECT_META], 2: ["data", "map"], 3: ["binaryData", "bytesMap"], 4: ["immutable", "ptrBool"] },
  Secret: {
    1: ["metadata", OBJECT_META],
    2: ["data", "bytesMap"],
    3: ["type", "string"],
    4: ["stringData", "map"],
    5: ["immutable", "ptrBool"],
  },
  Namespace: { 1: ["metadata", OBJECT_META], 2: ["spec", { 1: ["finalizers", "strings"] }] },
  ServiceAccount: {
    1: ["metadata", OBJECT_META],
    3: ["imagePullSecrets", { repeated: { 1: ["name", "string"] } }],
    4: ["automountServiceAccountToken", "ptrBool"],
  },
};

/** Whether the emulator decodes protobuf bodies of this kind. */
export function protobufKind(kind: string): boolean {
  return kind in KINDS;
}

class Reader {
  pos = 0;
  constructor(readonly buf: Buffer) {}
  get done(): boolean {
    return this.pos >= this.buf.length;
  }
  varint(): number {
    let result = 0;
    let mult = 1;
    for (;;) {
      if (this.pos >= this.buf.length) throw new Error("truncated varint");
      const b = this.buf[this.pos++];
      result += (b & 127) * mult;
      if (b < 128) return result;
      mult *= 128;
    }
  }
  bytes(): Buffer {
    const len = this.varint();
    if (this.pos + len > this.buf.length) throw new Error("truncated field");
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }
  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) this.bytes();
    else if (wire === 5) this.pos += 4;
    else throw new Error(`unsupported wire type ${wire}`);
  }
  /** Each (field number, wire type) in the message. */
  *fields(): Generator<[number, number]> {
    while (!this.done) {
      const tag = this.varint();
      yield [Math.floor(tag / 8), tag & 7];
    }
  }
}

function entry(buf: Buffer): [string, Buffer] {
  const r = new Reader(buf);
  let key = "";
  let value: Buffer = Buffer.alloc(0);
  for (const [num, wire] of r.fields()) {
    if (num === 1 && wire === 2) key = r.bytes().toString("utf8");
    else if (num === 2 && wire === 2) value = r.bytes();
    else r.skip(wire);
  }
  return [key, value];
}

function message(buf: Buffer, fields: Fields): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const r = new Reader(buf);
  for (const [num, wire] of r.fields()) {
    const field = fields[num];
    if (!field) {
      r.skip(wire);
      continue;
    }
    const [name, kind] = field;
    // gogo-protobuf writes empty strings and zero numbers that JSON (omitempty) leaves out.
    if (kind === "bool") {
      if (r.varint() !== 0) out[name] = true;
    } else if (kind === "ptrBool") out[name] = r.varint() !== 0;
    else if (kind === "ptrInt") out[name] = r.varint();
    else if (kind === "int") {
      const n = r.varint();
      if (n !== 0) out[name] = n;
    } else if (kind === "string") {
      const v = r.bytes().toString("utf8");
      if (v !== "") out[name] = v;
    } else if (kind === "bytes") out[name] = r.bytes().toString("base64");
    else if (kind === "intOrString") {
      const v = message(r.bytes(), { 1: ["type", "int"], 2: ["intVal", "int"], 3: ["strVal", "string"] });
      out[name] = v.type === 1 ? (v.strVal ?? "") : (v.intVal ?? 0);
    } else if (kind === "strings") out[name] = [...((out[name] as string[]) ?? []), r.bytes().toString("utf8")];
    else if (kind === "map" || kind === "bytesMap") {
      const [k, v] = entry(r.bytes());
      out[name] = { ...((out[name] as object) ?? {}), [k]: kind === "map" ? v.toString("utf8") : v.toString("base64") };
    } else if ("repeated" in kind) {
      out[name] = [...((out[name] as unknown[]) ?? []), message(r.bytes(), kind.repeated as Fields)];
    } else out[name] = message(r.bytes(), kind as Fields);
  }
  return out;
}

/** Decodes a protobuf request body into the JSON object it stands for, or throws the API error. */
export function decodeProtobuf(body: Buffer): Record<string, unknown> {
  const magic = Buffer.from([0x6b, 0x38, 0x73, 0x00]);
  if (body.length < 4 || !body.subarray(0, 4).equals(magic)) {
    throw errors.badRequest("provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]");
  }
  try {
    const unknown = message(body.subarray(4), {
      1: ["typeMeta", { 1: ["apiVersion", "string"], 2: ["kind", "string"] }],
      2: ["raw", "bytes"],
    });
    const typeMeta = (unknown.typeMeta ?? {}) as { apiVersion?: string; kind?: string };
    const fields = typeMeta.kind ? KINDS[typeMeta.kind] : undefined;
    if (!fields) throw errors.unsupportedMediaType(PROTOBUF, ["application/json", "application/yaml"]);
    const raw = Buffer.from(String(unknown.raw ?? ""), "base64");
    return { apiVersion: typeMeta.apiVersion, kind: typeMeta.kind, ...message(raw, fields) };
  } catch (err) {
    if (!(err instanceof ApiError)) throw errors.badRequest(`unable to decode protobuf body: ${(err as Error).message}`);
    throw err;
  }
}
