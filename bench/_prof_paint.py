import asyncio, cProfile, pstats, sys, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))
import corpus_view as cv
from ui_dialogs import send_key
from ui_render import Frames
from ner_tui.core.corpus_scores import CorpusDecoder, rescore
from ner_tui.core.settings import Settings
from ner_tui.ui.app import NerTuiApp

async def main():
    docs, kept = await cv.corpus(10000)
    app = NerTuiApp(Settings(local=True), initial_text="")
    async with app.run_test(size=(120, 36)) as pilot:
        frames = Frames(app, probe=lambda: id(getattr(app.screen, "scores", None)))
        while app.connection is None:
            await pilot.pause(0.05)
        o = app.decode_options
        app.corpus_docs, app.corpus_scored = docs, kept
        app._corpus_decoder = CorpusDecoder(kept)
        app.corpus_scores = rescore(docs, app._corpus_decoder.decode(o), o)
        app.push_screen(app.new_corpus_screen("x"))
        await app.workers.wait_for_complete(); await pilot.pause()
        for key in ["f4", "f4", "f4"]:
            await app.workers.wait_for_complete(); await pilot.pause()
            before = id(app.screen.scores)
            pr = cProfile.Profile()
            frames.times.clear(); frames.seen.clear()
            pr.enable()
            start = send_key(app, key)
            while not any(s != before for s in frames.seen):
                await asyncio.sleep(0.001)
            pr.disable()
            print(key, [(round((t-start)*1000), s != before) for t, s in zip(frames.times, frames.seen)])
        pstats.Stats(pr).sort_stats("cumtime").print_stats(45)
asyncio.run(main())
