import { createMemoryBacking, MemoryStore } from '../../src/store/memory.js';
import { storeConformance } from './conformance.js';

const backing = createMemoryBacking();
storeConformance('memory', () => ({ open: async (prefix) => new MemoryStore({ prefix, backing }) }));
