/** One section of BENCHMARKS.md: a markdown table and notes, measured in one run. */
export interface BenchSection {
  title: string;
  table: string;
  notes: string[];
}
