package abci

// Block retention: CometBFT prunes its own blocks below the height Commit
// returns. With a retention rule (types.Params.Retains) that is the engine's
// floor, the lowest height whose state reads still answer; without one it
// is 0 and CometBFT keeps every block.
func (a *App) retainHeight() int64 {
	if !a.reader.Params().Retains() {
		return 0
	}
	floor, err := a.reader.Floor()
	if err != nil {
		a.logger.Error("reading the retention floor failed; blocks are kept", "err", err)
		return 0
	}
	return int64(floor)
}
