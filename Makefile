# `make test` and `make demo` are the two commands of the README; both create .venv first.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
SHARED ?= ../shared/data
STAMP := $(VENV)/.installed

EMBEDDED := flowenedet_core/embedded
WORK := runs/embedded
MODEL := -p backbone:=erfnet-tiny -p weights:=$(EMBEDDED)/erfnet-tiny.safetensors -p backend:=onnxruntime -p artifacts_dir:=$(WORK)/artifacts
ROAD_AHEAD := [0.25,0.45,0.75,1.0]

.PHONY: venv test test-slow test-jazzy lint demo embedded-model embedded-thresholds recipe-study real-model clean

venv: $(STAMP)

# torch is pinned to the local CPU wheel *before* the project, so the range in setup.py is already
# satisfied and pip fetches no CUDA build.
$(STAMP): setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[test,rospip]"
	touch $(STAMP)

# The ROS tests again on ROS 2 Jazzy (the LTS) from its PyPI wheels, in a venv of their own.
JAZZY := .venv-jazzy
$(JAZZY)/.installed: setup.py
	$(PYTHON) -m venv $(JAZZY)
	$(JAZZY)/bin/pip install --quiet --upgrade pip
	$(JAZZY)/bin/pip install --quiet torch==2.13.0
	$(JAZZY)/bin/pip install --quiet -e ".[test,rospip-jazzy]"
	touch $@

test-jazzy: $(JAZZY)/.installed
	$(JAZZY)/bin/python -m pytest -q test/ros

lint: venv
	$(BIN)/ruff check flowenedet_core flowenedet_ros test setup.py launch scripts

test: venv lint
	$(BIN)/python -m pytest -q

# Real-data tests (minutes of CPU): ERFNet on RoadAnomaly21 / FS Static / Cityscapes.
test-slow: venv
	$(BIN)/python -m pytest -q -m slow

# The embedded model on a synthetic drive, through the real node process (no data, no GPU).
demo: venv
	$(BIN)/flowenedet demo --out runs/demo

# Reproduces $(EMBEDDED) (docs/embedded-model.md): synthetic streets, the small backbone,
# FED-U and FED-C on it, and the scene-flag and reason thresholds (about 20 minutes on 2 CPU
# cores).
embedded-model: venv
	rm -rf $(WORK)
	$(BIN)/flowenedet synth --out $(WORK)/synth --train 600 --val 60 --anomaly 0 --seed 0
	$(BIN)/flowenedet synth --out $(WORK)/synth-fed --train 300 --val 0 --anomaly 0 --seed 1
	$(BIN)/flowenedet train-backbone --data cityscapes:$(WORK)/synth/cityscapes:train --val cityscapes:$(WORK)/synth/cityscapes:val --iters 3000 --out $(EMBEDDED)/erfnet-tiny
	$(BIN)/flowenedet train --backbone erfnet-tiny --weights $(EMBEDDED)/erfnet-tiny.safetensors --data cityscapes:$(WORK)/synth-fed/cityscapes:train --variant fed-u --raw-logits --iters 1500 --crop 256x512 --out $(WORK)/fed-u
	$(BIN)/flowenedet train --backbone erfnet-tiny --weights $(EMBEDDED)/erfnet-tiny.safetensors --data cityscapes:$(WORK)/synth-fed/cityscapes:train --variant fed-c --raw-logits --blocks 4 --separable --iters 1500 --crop 256x512 --out $(WORK)/fed-c
	for v in fed-u fed-c; do mkdir -p $(EMBEDDED)/$$v && cp $(WORK)/$$v/fed.json $(WORK)/$$v/fed.safetensors $(EMBEDDED)/$$v/; done
	$(MAKE) embedded-thresholds

# Only the shipped thresholds of $(EMBEDDED) (scene flag, reason, image evidence): synthetic drives
# replayed with the embedded model, then `calibrate` (a few minutes on 2 CPU cores).
embedded-thresholds: venv
	rm -rf $(WORK)/*-drive $(WORK)/*-replay
	$(BIN)/flowenedet make-drive $(WORK)/inlier-drive --stretch clear:150 --stretch fog:100:0.3 --stretch clear:150 --seed 11
	$(BIN)/flowenedet make-drive $(WORK)/anomaly-drive --stretch anomaly:30:1 --stretch anomaly:30:2 --stretch clear:20 --stretch anomaly:30:1 --seed 12
	$(BIN)/flowenedet make-drive $(WORK)/degraded-drive --stretch fog:60:0.9 --stretch noise:40:0.9 --stretch night:40:0.9 --seed 13
	$(BIN)/flowenedet make-drive $(WORK)/object-drive --stretch anomaly:30:2 --stretch clear:10 --stretch anomaly:30:2 --stretch clear:10 --stretch anomaly:30:2 --seed 14
	$(BIN)/flowenedet replay $(WORK)/inlier-drive --out $(WORK)/inlier-replay $(MODEL) -p fed:=$(EMBEDDED)/fed-u
	$(BIN)/flowenedet replay $(WORK)/anomaly-drive --out $(WORK)/anomaly-replay $(MODEL) -p fed:=$(EMBEDDED)/fed-u
	$(BIN)/flowenedet replay $(WORK)/degraded-drive --out $(WORK)/degraded-replay $(MODEL) -p fed:=$(EMBEDDED)/fed-u
	$(BIN)/flowenedet replay $(WORK)/object-drive --out $(WORK)/object-replay $(MODEL) -p fed:=$(EMBEDDED)/fed-u
	$(BIN)/flowenedet calibrate --inlier $(WORK)/inlier-replay/bag --anomaly $(WORK)/anomaly-replay/bag --anomaly $(WORK)/object-replay/bag --degraded $(WORK)/degraded-replay/bag -p "roi:=$(ROAD_AHEAD)" --target 0.01 --out $(EMBEDDED)/thresholds.yaml

# FED on the real backbones (docs/recipe-study.md, docs/results.md; CPU hours, not part of
# `make test`): the recipe study on a hold-out of the train frames, then the chosen recipes
# trained on all of them and evaluated once on the dev sets (runs/real-model/<backbone>/eval.json,
# table printed).
recipe-study: venv
	for backbone in erfnet efficientvit-b0; do \
	  scripts/recipe-study.sh $$backbone && $(BIN)/python scripts/study_table.py runs/study/$$backbone; \
	done

real-model: venv
	scripts/real-model.sh erfnet efficientvit-b0

clean:
	rm -rf $(VENV) $(JAZZY) runs
