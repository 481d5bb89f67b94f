"""Training stages on TRL's trainers: SFT (stage 1 and 2), DPO with NCA, GRPO. Each stage
keeps its resumable state in a work folder and moves the picked weights into its declared
output only at the end (Snakemake deletes declared outputs before a job runs)."""
