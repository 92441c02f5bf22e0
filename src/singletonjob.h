// SingletonJob: placeholder header, filled in by the QML/jobs work.
#pragma once

#include "qredlock_export.h"
