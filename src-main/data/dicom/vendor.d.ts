// Types of the codec packages that ship none (only what src-main/data/dicom uses).

declare module 'jpeg-lossless-decoder-js' {
  /** JPEG lossless (process 14) decoder; `decode` returns the samples of every component. */
  export class Decoder {
    constructor();
    decode(
      buffer: ArrayBuffer,
      offset?: number,
      length?: number,
      numBytes?: number,
    ): Uint8Array | Uint16Array;
  }
}

interface EmscriptenCodecOptions {
  print?: (text: string) => void;
  printErr?: (text: string) => void;
}

interface CodecFrameInfo {
  width: number;
  height: number;
  bitsPerSample: number;
  componentCount: number;
  isSigned?: boolean;
}

interface WasmCodecInstance {
  getEncodedBuffer(length?: number): Uint8Array;
  getDecodedBuffer(frameInfo?: CodecFrameInfo): Uint8Array;
  delete(): void;
}

declare module '@cornerstonejs/codec-charls/wasmjs' {
  interface JpegLSDecoder extends WasmCodecInstance {
    decode(): void;
    getFrameInfo(): CodecFrameInfo;
    getInterleaveMode(): number;
    getNearLossless(): number;
  }
  interface JpegLSEncoder extends WasmCodecInstance {
    setNearLossless(n: number): void;
    setInterleaveMode(mode: number): void;
    encode(): void;
  }
  export interface CharlsModule {
    JpegLSDecoder: new () => JpegLSDecoder;
    JpegLSEncoder: new () => JpegLSEncoder;
  }
  const factory: (options?: EmscriptenCodecOptions) => Promise<CharlsModule>;
  export default factory;
}

declare module '@cornerstonejs/codec-openjpeg/wasmjs' {
  interface J2KDecoder extends WasmCodecInstance {
    readHeader(): void;
    decode(): void;
    decodeSubResolution(decompositionLevel: number, layer: number): void;
    getFrameInfo(): CodecFrameInfo;
  }
  interface J2KEncoder extends WasmCodecInstance {
    setQuality(lossless: boolean, quality: number): void;
    setDecompositions(n: number): void;
    encode(): void;
  }
  export interface OpenJpegModule {
    J2KDecoder: new () => J2KDecoder;
    J2KEncoder: new () => J2KEncoder;
  }
  const factory: (options?: EmscriptenCodecOptions) => Promise<OpenJpegModule>;
  export default factory;
}
