import type { ESLint, Rule } from 'eslint';

export declare const LAYER_RANKS: Readonly<Record<string, number>>;
export declare const LAYER_ORDER: string;
export declare const layersRule: Rule.RuleModule;
declare const plugin: ESLint.Plugin & { rules: { layers: Rule.RuleModule } };
export default plugin;
