/**
 * Karn's view of Urza's library (the narrow `BlueprintLibrary` it needs),
 * over an `UrzaLibrary` opened lazily.
 */
import type { SlotInterface } from '../../contracts/common.ts';
import type { BlueprintRecord } from '../../contracts/karn.ts';
import type { FieldReport } from '../../contracts/tamiyo.ts';
import type { UrzaLibrary } from '../urza/index.ts';
import type { BlueprintLibrary, LibraryLineage, LibraryPutInput, LibraryPutResult } from './karn.actor.ts';

export function urzaBlueprintLibrary(open: () => Promise<UrzaLibrary>): BlueprintLibrary {
  return {
    putBlueprint: async (input: LibraryPutInput): Promise<LibraryPutResult> => (await open()).putBlueprint(input),
    listBlueprints: async (filter: { interface?: SlotInterface } = {}): Promise<readonly BlueprintRecord[]> => {
      const library = await open();
      const out: BlueprintRecord[] = [];
      let cursor: string | undefined;
      do {
        const page = await library.queryBlueprints({
          includeIr: true,
          limit: 1000,
          ...(filter.interface === undefined ? {} : { interface: filter.interface }),
          ...(cursor === undefined ? {} : { cursor }),
        });
        out.push(...page.blueprints);
        cursor = page.nextCursor;
      } while (cursor !== undefined);
      return out;
    },
    lineage: async (blueprintId: string): Promise<LibraryLineage> => (await open()).lineage(blueprintId),
    fieldReports: async (): Promise<readonly FieldReport[]> => (await open()).fieldReports({ limit: 1000 }),
  };
}
